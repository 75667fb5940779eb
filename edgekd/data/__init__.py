"""Dataset loaders. Everything here reads local files only: nothing is downloaded."""

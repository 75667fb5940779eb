"""Data sources: one file per source (idx, arrays, csv, image_folder) plus the registry, each giving
raw arrays that `prepare` turns into normalised splits and an `InputSpec`."""

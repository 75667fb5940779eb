"""Knowledge distillation: losses, the training loop and the teacher-logit cache."""

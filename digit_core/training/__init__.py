"""Training: the training loop, its callbacks, run directories, progress and background jobs."""

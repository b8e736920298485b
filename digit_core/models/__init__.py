"""Models: the zoo of architectures, composition, ensembles, classical baselines, export."""

"""What every baseline shares: data splits and 2D normalisation, rotations, configs and the training loop."""

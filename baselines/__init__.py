"""Reference PyTorch implementations of the field's baselines, trained on the harness's own data splits."""

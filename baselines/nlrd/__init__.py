"""NLRD-2D: Kundu et al.'s non-local latent relation distillation (NeurIPS 2021) run from 2D keypoints
(baselines.md section 3.6). In progress (issue 8): the pose prior, motion auto-encoder, relation transformers
and relations exist and are tested; the training stages do not yet."""

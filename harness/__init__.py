"""PoseBench harness: score 3D human pose submissions the same way every time."""

__version__ = "0.1.0"

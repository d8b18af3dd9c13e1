"""Small helpers: version checks, mmcv-lite support, checkpoint loading, launch."""

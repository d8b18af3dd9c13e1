from .window_loss import WindowLoss
from .window_silog_loss import WindowSiLogLoss

__all__ = ['WindowLoss', 'WindowSiLogLoss']

from .window_loss import WindowLoss

__all__ = ['WindowLoss']

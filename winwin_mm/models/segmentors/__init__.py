from .winwin_encoder_decoder import WinWinEncoderDecoder

__all__ = ['WinWinEncoderDecoder']

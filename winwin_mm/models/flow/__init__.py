from .data_preprocessor import FlowDataPreprocessor

__all__ = ['FlowDataPreprocessor']

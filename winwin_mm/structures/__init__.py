from .flow_data_sample import FlowDataSample

__all__ = ['FlowDataSample']

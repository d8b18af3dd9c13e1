from .flow_metric import FlowMetric, flow_error_sums

__all__ = ['FlowMetric', 'flow_error_sums']

from .flow_metric import FlowMetric, flow_error_sums
from .study_iou_metric import StudyIoUMetric, border_mask

__all__ = ['FlowMetric', 'flow_error_sums', 'StudyIoUMetric', 'border_mask']

"""The data sample of the optical-flow task (MMFlow 1.x field names)."""
from mmengine.structures import BaseDataElement, PixelData


def _pixel_data_field(name: str, doc: str) -> property:
    """A typed :class:`PixelData` field stored under ``_{name}``."""
    private = f'_{name}'

    def getter(self) -> PixelData:
        return getattr(self, private)

    def setter(self, value: PixelData) -> None:
        self.set_field(value, private, dtype=PixelData)

    def deleter(self) -> None:
        delattr(self, private)

    return property(getter, setter, deleter, doc)


class FlowDataSample(BaseDataElement):
    """Annotations and predictions of one frame pair.

    Fields (all :class:`~mmengine.structures.PixelData`):

    * ``gt_flow_fw``: forward ground-truth flow, ``data`` (2, H, W) float,
      channels ``(u, v)`` in pixels.
    * ``gt_valid_fw``: ground-truth validity, ``data`` (1, H, W) float in
      {0, 1}.
    * ``pred_flow_fw``: predicted forward flow, ``data`` (2, H, W).

    Meta information (``img1_path``, ``img_shape``, ``pad_shape``,
    ``window_boxes``...) is set by ``PackFlowInputs`` and the data
    preprocessor.
    """

    gt_flow_fw = _pixel_data_field('gt_flow_fw', 'Ground-truth forward flow.')
    gt_valid_fw = _pixel_data_field('gt_valid_fw',
                                    'Ground-truth validity mask.')
    pred_flow_fw = _pixel_data_field('pred_flow_fw', 'Predicted forward flow.')

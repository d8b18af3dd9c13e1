"""Synthetic batches for the benchmark, made by the configs' own pipelines.

What the loading and augmentation transforms would hand over (random
images, labels / flows at the run's size) goes through the tail of the
config's pipeline, from its ``RandomWindows`` on (with the run's window
geometry), or through its last transform (the packer) when it has none,
then ``pseudo_collate`` like the data loader.
"""
import numpy as np
from mmengine.config import Config

from .settings import TRAIN_CASES, BenchSettings

NUM_BATCHES = 4  # distinct synthetic batches, cycled


def pipeline_patch_size(cfg: Config) -> int:
    m = cfg.model
    return (m.get('backbone') or m.get('encoder')).get('patch_size', 16)


def _synthetic_results(task: str, hw, num_classes: int,
                       rng: np.random.Generator, i: int) -> dict:
    """What the loading / augmentation transforms would hand over."""
    h, w = hw
    common = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.),
                  flip=False, flip_direction=None)
    if task == 'seg':
        return dict(common, img=rng.integers(0, 256, (h, w, 3), np.uint8),
                    gt_seg_map=rng.integers(0, num_classes, (h, w),
                                            np.uint8),
                    seg_fields=['gt_seg_map'], reduce_zero_label=False,
                    img_path=f'synthetic_{i}.png',
                    seg_map_path=f'synthetic_{i}_label.png')
    return dict(common, img1=rng.integers(0, 256, (h, w, 3), np.uint8),
                img2=rng.integers(0, 256, (h, w, 3), np.uint8),
                gt_flow_fw=rng.normal(0, 8, (h, w, 2)).astype(np.float32),
                gt_valid_fw=np.ones((h, w), np.float32),
                img1_path=f'synthetic_{i}_1.png',
                img2_path=f'synthetic_{i}_2.png')


def make_batches(s: BenchSettings, cfg: Config, name: str, geo,
                 transforms_registry, count: int = NUM_BATCHES) -> tuple:
    """``count`` synthetic batches through the tail of the config's own
    pipeline: from its ``RandomWindows`` (window side / count set from
    ``geo``, the run's :class:`.cases.Geometry`) or, without one, its last
    transform (the packer). Returns the batches and the tail's configs."""
    from mmengine.dataset import Compose, pseudo_collate
    train = name in TRAIN_CASES
    pipeline = [dict(t) for t in (cfg.train_pipeline if train else
                                  cfg.test_pipeline)]
    idx = [i for i, t in enumerate(pipeline)
           if str(t['type']).endswith('RandomWindows')]
    tail = pipeline[idx[0]:] if idx else pipeline[-1:]
    for t in tail:
        if str(t['type']).endswith('RandomWindows'):
            t.pop('token_fraction', None)
            t['patch_size'] = pipeline_patch_size(cfg)
            if name == 'crop_train':
                t.update(num_windows=1, window_size=geo.crop_side)
            else:
                t.update(num_windows=geo.num_windows, window_size=geo.side)
    compose = Compose([transforms_registry.build(t) for t in tail])
    rng = np.random.default_rng(s.seed)
    np.random.seed(s.seed)  # RandomWindows samples from numpy's global RNG
    num_classes = (cfg.model.decode_head.num_classes
                   if s.task == 'seg' else 0)
    per = s.batch_size if train else s.infer_batch_size
    batches = []
    for b in range(count):
        samples = [compose(_synthetic_results(s.task, s.image_size,
                                              num_classes, rng, b * per + j))
                   for j in range(per)]
        batches.append(pseudo_collate(samples))
    return batches, tail

"""Predict the optical flow of one image pair with a winwin_mm flow model.

    python tools/predict_flow.py IMG1 IMG2 --config CONFIG \
        (--checkpoint CKPT | --random-weights) --out-dir DIR \
        [--mode whole|tiled] [--crop-size H W] [--overlap 0.9] \
        [--max-flow M] [--gt FLOW] [--device cpu]

Writes ``DIR/<stem of IMG1>.flo`` (Middlebury ``.flo``, (u, v) in pixels)
and ``DIR/<stem of IMG1>_flow.png`` (Middlebury colour wheel). With
``--gt`` (``.flo``, ``.pfm``, KITTI ``.png`` or ``.flo5``) also
``DIR/<stem of IMG1>_panel.png`` (frame 1 and ground truth over prediction
and log2 end-point error with its colour bar, both flows on one colour
scale) and prints the flow metric's EPE and outlier rates for the pair.
``--mode`` overrides the config's ``model.test_cfg`` (``tiled`` takes
``crop_size`` and ``overlap`` from the config or from ``--crop-size`` /
``--overlap``).
``--random-weights`` (instead of ``--checkpoint``) runs a randomly
initialised model, as a smoke test; without either the tool stops.
"""
import argparse
import logging
import os
import os.path as osp
import sys
import time
from typing import Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

sys.path.insert(0, osp.join(osp.dirname(__file__), '..'))
import winwin_mm  # noqa: E402,F401  registers components, checkpoint compat
from winwin_mm.datasets.flow_io import (gt_scale_factor,  # noqa: E402
                                       read_flow, read_image, write_flo)
from winwin_mm.evaluation.flow_metric import (  # noqa: E402
    flow_error_sums, flow_metrics_from_sums)
from winwin_mm.registry import MODELS  # noqa: E402
from winwin_mm.structures import FlowDataSample  # noqa: E402
from winwin_mm.visualization import flow_panel, flow_to_color  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Predict optical flow for an image pair')
    parser.add_argument('img1', help='first frame')
    parser.add_argument('img2', help='second frame')
    parser.add_argument('--config', required=True, help='model config')
    parser.add_argument('--checkpoint', help='checkpoint (.pth)')
    parser.add_argument('--random-weights', action='store_true',
                        help='no checkpoint: random weights (smoke test)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--mode', choices=['whole', 'tiled'],
                        help='inference mode (default: the config test_cfg)')
    parser.add_argument('--crop-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='tile size for --mode tiled')
    parser.add_argument('--overlap', type=float,
                        help='tile overlap for --mode tiled')
    parser.add_argument('--max-flow', type=float,
                        help='flow magnitude shown fully saturated in the '
                        'PNG (default: the largest of the prediction)')
    parser.add_argument('--gt', help='ground-truth flow file: also write '
                        'the prediction beside it with the error map')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    args = parser.parse_args(argv)
    if not args.checkpoint and not args.random_weights:
        raise SystemExit('No --checkpoint given: the flow would come from '
                         'random weights. Pass --checkpoint CKPT (a .pth '
                         'trained with this config), or --random-weights '
                         'for a smoke test.')
    return args


def check_flow_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Refuse a checkpoint of another task (segmentation, depth) naming the
    file and the task its weights are for, before the strict load lists
    every key."""
    from mmengine.runner.checkpoint import _load_checkpoint
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    tops = {k.split('.')[0] for k in state}
    want = {k.split('.')[0] for k in model.state_dict()}
    if tops and not tops & want:
        task = ('segmentation or depth (a backbone + decode_head model)'
                if 'decode_head' in tops or 'backbone' in tops else
                'another model')
        raise SystemExit(
            f'Checkpoint {path} is for {task}: its weights are under '
            f'{", ".join(sorted(tops))}, a flow model\'s under '
            f'{", ".join(sorted(want))}. Fix: pass a checkpoint trained with '
            'a flow config (e.g. tools/train.py '
            'configs/winwin_vitti_flow_demo.py), or use tools/test.py with '
            'the segmentation config for this one.')


def build_model(cfg: Config, args) -> torch.nn.Module:
    init_default_scope(cfg.get('default_scope', 'winwin_mm') or 'winwin_mm')
    model_cfg = cfg.model.copy()
    test_cfg = dict(model_cfg.get('test_cfg') or {})
    if args.mode:
        test_cfg['mode'] = args.mode
    if args.crop_size:
        test_cfg['crop_size'] = tuple(args.crop_size)
    if args.overlap is not None:
        test_cfg['overlap'] = args.overlap
    model_cfg['test_cfg'] = test_cfg
    model = MODELS.build(model_cfg)
    if args.checkpoint:
        check_flow_checkpoint(model, args.checkpoint)
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True)
    else:
        # MMEngine logs one init line per parameter (~690 here): keep
        # them out of a smoke test's output
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
        n = sum(p.numel() for p in model.parameters())
        print(f'--random-weights: {n:,} parameters at their random init '
              '(a smoke test, not a prediction)')
    return model.to(args.device).eval()


def score(flow: np.ndarray, gt: np.ndarray,
          valid: Optional[np.ndarray]) -> str:
    """The flow metric's numbers for one pair, as ``FlowMetric`` computes
    them (``spring`` mode for a ground truth at twice the frame size)."""
    k = gt_scale_factor(gt.shape, flow.shape[:2])
    if k not in (1, 2):
        raise SystemExit(f'--gt is {gt.shape[1]}x{gt.shape[0]}, neither the '
                         f'frame size {flow.shape[1]}x{flow.shape[0]} nor '
                         'twice it (Spring)')
    sums = flow_error_sums(
        torch.from_numpy(flow.transpose(2, 0, 1).copy()),
        torch.from_numpy(gt.transpose(2, 0, 1).copy()),
        None if valid is None else torch.from_numpy(valid.astype(np.float32)),
        mode='spring' if k == 2 else 'standard')
    metrics = flow_metrics_from_sums(sums)
    return (', '.join(f'{k} {v:.4f}' for k, v in metrics.items())
            + f' over {int(sums["num_valid"])} valid pixels (EPE in px; '
            'the others are % of those pixels: error > 1/3/5 px, KITTI Fl)')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    model = build_model(cfg, args)
    img1, img2 = read_image(args.img1), read_image(args.img2)
    if img1.shape != img2.shape:
        raise SystemExit(f'frames differ in size: {img1.shape[:2]} vs '
                         f'{img2.shape[:2]}')
    hw = img1.shape[:2]
    pair = torch.from_numpy(
        np.concatenate((img1, img2), axis=2).transpose(2, 0, 1).copy())
    sample = FlowDataSample(metainfo=dict(
        img1_path=args.img1, img2_path=args.img2, img_shape=hw, ori_shape=hw))
    start = time.perf_counter()
    with torch.no_grad():
        out = model.test_step(dict(inputs=[pair], data_samples=[sample]))[0]
    elapsed = time.perf_counter() - start
    flow = out.pred_flow_fw.data.cpu().numpy().transpose(1, 2, 0)
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(args.img1))[0]
    flo_path = osp.join(args.out_dir, stem + '.flo')
    png_path = osp.join(args.out_dir, stem + '_flow.png')
    write_flo(flo_path, flow)
    cv2.imwrite(png_path, flow_to_color(flow, args.max_flow)[..., ::-1])
    written = [flo_path, png_path]
    scores = None
    if args.gt:
        gt, valid = read_flow(args.gt)
        scores = score(flow, gt, valid)
        written.append(osp.join(args.out_dir, stem + '_panel.png'))
        panel = flow_panel(img1, flow, gt, valid, args.max_flow)
        cv2.imwrite(written[-1], panel[..., ::-1])
    mode = model.test_cfg.get('mode', 'whole')
    print(f'{hw[1]}x{hw[0]} pair, {mode} mode, {elapsed:.2f} s -> '
          + ', '.join(written))
    if scores:
        print(f'against {args.gt}: {scores}')
    return flo_path, png_path


if __name__ == '__main__':
    main()

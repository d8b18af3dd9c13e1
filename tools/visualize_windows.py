"""Draw the windows a config's training pipeline samples, over its images.

    python tools/visualize_windows.py CONFIG [--num 8] [--cols 2] \
        [--out windows.png] [--cfg-options key=value ...]

Tokens that Win-Win drops are dimmed; each kept window gets a coloured
frame. Runs the real training pipeline (resize, flip, ..., RandomWindows).
"""
import argparse
import copy
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(__file__), '..'))

COLOURS = [(255, 64, 64), (64, 160, 255), (255, 200, 0), (80, 220, 80)]


def draw(img: np.ndarray, results: dict, patch: int) -> np.ndarray:
    """img (H, W, 3) RGB uint8 -> same with dropped tokens dimmed and
    window frames drawn."""
    import cv2
    keep = np.zeros(img.shape[:2], bool)
    out = img.copy()
    boxes = results.get('window_boxes')
    if boxes is not None:
        for y0, x0, y1, x1 in boxes * patch:
            keep[y0:y1, x0:x1] = True
    tokens = results.get('window_tokens')
    if tokens is not None:
        gw = img.shape[1] // patch
        for t in tokens:
            y, x = divmod(int(t), gw)
            keep[y * patch:(y + 1) * patch, x * patch:(x + 1) * patch] = True
    out[~keep] = (out[~keep] * 0.3).astype(np.uint8)
    if boxes is not None:
        for i, (y0, x0, y1, x1) in enumerate(boxes * patch):
            cv2.rectangle(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1),
                          COLOURS[i % len(COLOURS)], max(2, patch // 4))
    return out


def main(argv=None):
    from mmengine.config import Config, DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('--num', type=int, default=8, help='images to draw')
    p.add_argument('--cols', type=int, default=2)
    p.add_argument('--width', type=int, default=640,
                   help='width of each tile in the grid')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='windows.png')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    if args.num < 1 or args.cols < 1:
        raise SystemExit(f'--num ({args.num}) and --cols ({args.cols}) must '
                         'be >= 1.')

    import cv2
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import winwin_mm  # noqa: F401
    from winwin_mm.ablation.variants import WINDOW_TYPES

    from winwin_mm.datasets.checks import DatasetCheckError, check_seg_dataset
    from winwin_mm.utils.config_check import check_top_level, validate_config
    from winwin_mm.utils.validation import ConfigError

    cfg = Config.fromfile(args.config)
    options = args.cfg_options or {}
    try:  # the checks of tools/train.py: refuse what training refuses
        check_top_level(cfg, args.config, options)
        cfg.merge_from_dict(options)
        validate_config(cfg, args.config + (' with --cfg-options'
                                            if options else ''),
                        top_level=False)
    except ConfigError as e:
        raise SystemExit(str(e)) from None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline = [t for t in ds_cfg.pipeline if 'Pack' not in str(t['type'])]
    wins = [t for t in pipeline if t['type'] in WINDOW_TYPES]
    if not wins:
        raise SystemExit(f'{args.config} has no RandomWindows in its train '
                         'pipeline: nothing to draw.')
    patch = wins[0].get('patch_size', 16)
    model = cfg.get('model', {})
    net = model.get('backbone') or model.get('encoder') or {}
    model_patch = net.get('patch_size', 16)
    if patch != model_patch:
        # the model refuses such windows (winwin_mm.models.window_meta):
        # drawing them would show windows no training step uses
        raise SystemExit(
            f'{args.config}: RandomWindows(patch_size={patch}) but the '
            f'model\'s backbone has patch_size={model_patch}; training would '
            f'stop with an error. Fix: set patch_size={model_patch} in '
            'RandomWindows.')
    if model.get('train_windows', True) is False:
        raise SystemExit(f'{args.config}: model.train_windows=False (full-'
                         'resolution training) but the pipeline has '
                         'RandomWindows; fix the config first.')
    ds_cfg.pipeline = pipeline
    dataset = DATASETS.build(ds_cfg)
    head = model.get('decode_head') or {}
    try:
        from mmseg.datasets import BaseSegDataset
        if isinstance(dataset, BaseSegDataset):
            check_seg_dataset(dataset, 'train_dataloader.dataset',
                              head.get('num_classes'),
                              head.get('ignore_index', 255))
    except DatasetCheckError as e:
        raise SystemExit(str(e)) from None
    np.random.seed(args.seed)
    tiles = []
    for i in range(min(args.num, len(dataset))):
        r = dataset[i]
        img = r['img'][..., ::-1]  # BGR -> RGB
        tile = draw(np.ascontiguousarray(img), r, patch)
        h = int(tile.shape[0] * args.width / tile.shape[1])
        tiles.append(cv2.resize(tile, (args.width, h),
                                interpolation=cv2.INTER_AREA))
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0)))
             for t in tiles]
    while len(tiles) % args.cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + args.cols], 1)
            for i in range(0, len(tiles), args.cols)]
    grid = np.concatenate(rows, 0)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, grid[..., ::-1])
    print(f'wrote {args.out} ({len(tiles)} images, patch {patch})')


if __name__ == '__main__':
    main()

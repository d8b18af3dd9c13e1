"""tools/test.py --show-dir draws every test image (issue 17, item 4): on a
2-image test set, and on CamVid val with only the test data root given."""
import glob
import os.path as osp
import sys

import torch

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate

from conftest import shared_data
from test_tools import EXTERNAL_CONFIG, REPO, run


def _checkpoint(cfg_path: str, out: str, **cfg_options) -> str:
    """A checkpoint of the config's model (random init: drawing does not
    depend on the weights)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(cfg_path)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, out)
    return out


def _drawings(show_dir):
    return sorted(glob.glob(osp.join(show_dir, '**', '*.png'),
                            recursive=True))


def test_show_dir_draws_both_images_of_a_two_image_test_set(tmp_path):
    root = generate(str(tmp_path / 'data'), num_train=2, num_val=2,
                    size=(64, 128), seed=1)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    ckpt = _checkpoint(str(cfg), str(tmp_path / 'model.pth'))
    show = str(tmp_path / 'show')
    run([sys.executable, 'tools/test.py', str(cfg), ckpt, '--work-dir',
         str(tmp_path / 'w'), '--show-dir', show])
    names = [osp.basename(p) for p in _drawings(show)]
    assert len(names) == 2, names  # mmseg's hook drew every 50th: none
    assert names[0].startswith('test_val_0000.png')
    assert names[1].startswith('test_val_0001.png')


def test_show_dir_on_camvid_val_with_only_the_test_root(tmp_path):
    camvid = shared_data('seg', 'camvid')
    cfg = osp.join(REPO, 'configs', 'winwin_vits_camvid.py')
    ckpt = _checkpoint(cfg, str(tmp_path / 'model.pth'))
    show = str(tmp_path / 'show')
    # the training root stays the config's data/camvid, which does not
    # exist here: testing must not build the training dataloader
    assert not osp.exists(osp.join(REPO, 'data', 'camvid'))
    run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir',
         str(tmp_path / 'w'), '--show-dir', show, '--cfg-options',
         f'test_dataloader.dataset.data_root={camvid}',
         'test_dataloader.dataset.indices=3', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'])
    assert len(_drawings(show)) == 3

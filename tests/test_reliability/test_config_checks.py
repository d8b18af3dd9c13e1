"""Start-up config validation (issue 24): typos in files and in
--cfg-options are refused alike with the nearest valid name, zeros and
negative counts are errors, and RandomWindows must follow every geometric
transform; each case failed silently or mid-run before."""
import glob
import os.path as osp
import sys

import pytest
from mmengine.config import Config

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate
from winwin_mm.utils.config_check import validate_config
from winwin_mm.utils.validation import ConfigError

from test_reliability_windows import fail
from test_tools import EXTERNAL_CONFIG, REPO


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp('cfgcheck')
    return generate(str(base / 'data'), num_train=2, num_val=1,
                    size=(64, 128), seed=1)


def _file(tmp_path, data, replace=(), extra=''):
    text = EXTERNAL_CONFIG.replace('{root}', data)
    for a, b in replace:
        assert a in text
        text = text.replace(a, b)
    path = tmp_path / 'cfg.py'
    path.write_text(text + extra)
    return str(path)


@pytest.mark.parametrize('path', sorted(glob.glob(
    osp.join(REPO, 'configs', '*.py'))), ids=osp.basename)
def test_shipped_configs_pass(path):
    validate_config(Config.fromfile(path), path)


def test_misspelt_top_level_key_in_a_file(tmp_path, data):
    cfg = _file(tmp_path, data, [('train_cfg = dict', 'trian_cfg = dict')])
    out = fail([sys.executable, 'tools/train.py', cfg, '--work-dir',
                str(tmp_path / 'w')])
    assert f"{cfg}: top-level key 'trian_cfg' is read by nothing" in out
    assert "did you mean 'train_cfg'?" in out
    assert not (tmp_path / 'w').exists() or not glob.glob(
        str(tmp_path / 'w' / '*.pth'))


def test_legacy_key_names_the_new_setting(tmp_path, data):
    cfg = _file(tmp_path, data, extra="\nlr_config = dict(policy='poly')\n")
    with pytest.raises(ConfigError, match=r"'lr_config' is a setting of "
                       r'MMSegmentation 0.x.*Fix: use param_scheduler'):
        validate_config(Config.fromfile(cfg), cfg)


def test_model_test_cfg_typo_in_file_and_on_command_line(tmp_path, data):
    cfg = _file(tmp_path, data, [("test_cfg=dict(mode='whole')",
                                  "test_cfg=dict(mod='slide')")])
    with pytest.raises(ConfigError, match=r"model.test_cfg.mod: nothing "
                       r"reads test_cfg key 'mod' \(did you mean 'mode'\?\)"):
        validate_config(Config.fromfile(cfg), cfg)
    good = _file(tmp_path, data)
    out = fail([sys.executable, 'tools/train.py', good, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                'model.test_cfg.mod=slide'])
    assert 'with --cfg-options: model.test_cfg.mod' in out
    assert "did you mean 'mode'?" in out


def test_unknown_argument_of_a_model_part_or_transform(tmp_path, data):
    cfg = Config.fromfile(_file(tmp_path, data))
    cfg.model.decode_head.dropout_rato = 0.1
    with pytest.raises(ConfigError, match=r"model.decode_head.dropout_rato: "
                       r"FCNHead takes no argument 'dropout_rato' \(did you "
                       r"mean 'dropout_ratio'\?\)"):
        validate_config(cfg)
    cfg = Config.fromfile(_file(tmp_path, data))
    cfg.train_dataloader.dataset.pipeline[2]['num_window'] = 2
    with pytest.raises(ConfigError, match=r"pipeline\[2\].num_window: "
                       r"RandomWindows takes no argument 'num_window' \(did "
                       r"you mean 'num_windows'\?\)"):
        validate_config(cfg)
    cfg = Config.fromfile(_file(tmp_path, data))
    cfg.train_cfg.val_intervall = 3
    with pytest.raises(ConfigError, match=r"train_cfg.val_intervall: "
                       r"IterBasedTrainLoop takes no argument"):
        validate_config(cfg)
    cfg = Config.fromfile(_file(tmp_path, data))
    cfg.model.backbone.type = 'winwin_mm.RopeViT'
    with pytest.raises(ConfigError, match=r"model.backbone.type='winwin_mm."
                       r"RopeViT' is not registered .*did you mean "
                       r"'winwin_mm.RoPEViT'"):
        validate_config(cfg)


@pytest.mark.parametrize('option,message', [
    ('train_cfg.max_iters=-1',
     'train_cfg.max_iters must be an integer >= 1, got -1'),
    ('train_cfg.max_iters=0', '0 does not mean "use the default"'),
    ('train_dataloader.batch_size=0',
     'train_dataloader.batch_size must be an integer >= 1, got 0'),
    ('train_dataloader.dataset.pipeline.2.window_size=7.5',
     'RandomWindows window_size (the window side in patches) must be an '
     'integer >= 1, got 7.5 (float)'),
    ('train_dataloader.dataset.pipeline.2.num_windows=-2',
     'RandomWindows num_windows must be an integer >= 1, got -2'),
])
def test_counts_and_sizes_out_of_range_stop_the_start(tmp_path, data,
                                                       option, message):
    out = fail([sys.executable, 'tools/train.py', _file(tmp_path, data),
                '--work-dir', str(tmp_path / 'w'), '--cfg-options', option])
    assert message in out
    assert 'Traceback' not in out
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))


def test_window_size_must_be_an_integer():
    from winwin_mm.datasets.random_windows import RandomWindows
    from winwin_mm.windows import WindowSizeError
    for bad in (7.5, True, '8', 0):
        with pytest.raises(WindowSizeError, match='window_size'):
            RandomWindows(window_size=bad)
    with pytest.raises(WindowSizeError, match=r'token_fraction .* \(0, 1\]'):
        RandomWindows(token_fraction=1.5)
    assert RandomWindows(window_size=7).window_size == 7


@pytest.mark.parametrize('tool,args,message', [
    ('tools/ablate.py', ['configs/winwin_vits_camvid.py', '--iters', '0',
                         '--out', '{tmp}/ab'], 'argument --iters: must be >= 1'),
    ('tools/benchmark.py', ['--num-windows', '0', '--json', '{tmp}/b.json'],
     'argument --num-windows: must be >= 1'),
])
def test_study_tools_refuse_zero(tmp_path, tool, args, message):
    out = fail([sys.executable, tool] + [a.replace('{tmp}', str(tmp_path))
                                         for a in args])
    assert message in out
    assert '0 does not mean "use the default"' in out


RANDOM_CROP = "dict(type='RandomCrop', crop_size=(48, 96)),\n"


def test_random_windows_before_a_crop_is_refused_by_train_and_visualize(
        tmp_path, data):
    windows = ("dict(type='winwin_mm.RandomWindows', num_windows=2,\n"
               "                                window_size=2, "
               "patch_size=16),\n")
    cfg = _file(tmp_path, data, [(windows, windows + RANDOM_CROP)])
    want = ('RandomCrop comes after RandomWindows in the training pipeline')
    out = fail([sys.executable, 'tools/train.py', cfg, '--work-dir',
                str(tmp_path / 'w')])
    assert want in out and 'Fix: move RandomWindows after' in out
    out = fail([sys.executable, 'tools/visualize_windows.py', cfg, '--out',
                str(tmp_path / 'v.png')])
    assert want in out
    assert not (tmp_path / 'v.png').exists()
    # the right order passes
    cfg = _file(tmp_path, data, [(windows, RANDOM_CROP + windows)])
    validate_config(Config.fromfile(cfg), cfg)

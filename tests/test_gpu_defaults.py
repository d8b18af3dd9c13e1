"""GPU defaults of the configs (issue 15): bf16 AMP without loss scaling and
fused AdamW in the ViT-B schedule, compile as a switch; CPU configs stay
runnable on CPU; a fused AdamW step equals the unfused one."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.backbones.rope_vit import RoPEViT
from winwin_mm.utils.launch import optim_wrapper_without_cuda, prepare_cfg

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
SEG_VITB = ['fullres_vitb_bdd100k', 'winwin_vitb_bdd100k',
            'crop_vitb_bdd100k', 'winwin_vitb_cityscapes',
            'winwin_vitb_ade20k']
CPU_CONFIGS = ['winwin_vits_camvid', 'winwin_demo', 'winwin_vitti_flow_demo']


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', name + '.py'))


@pytest.mark.parametrize('name', SEG_VITB)
def test_vitb_seg_configs_default_to_bf16_and_fused_adamw(name):
    cfg = _cfg(name)
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.dtype == 'bfloat16'
    assert ow.loss_scale == dict(enabled=False)
    assert ow.optimizer.type == 'AdamW' and ow.optimizer.fused is True
    assert ow.constructor == 'winwin_mm.LayerDecayOptimWrapperConstructor'
    assert cfg.compile is False  # documented switch, off by default
    assert cfg.model.channels_last and cfg.model.resize_in_compute_dtype


@pytest.mark.parametrize('name', CPU_CONFIGS)
def test_cpu_configs_do_not_need_cuda(name):
    cfg = _cfg(name)
    assert not cfg.model.get('channels_last', False)  # unchanged
    ow = cfg.optim_wrapper
    assert ow.type == 'OptimWrapper'
    assert optim_wrapper_without_cuda(copy.deepcopy(ow)) is False


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_prepare_cfg_without_cuda_runs_amp_configs_in_fp32():
    cfg = _cfg('winwin_vitb_bdd100k')
    args = SimpleNamespace(launcher='none', cfg_options=None,
                           work_dir='/tmp/unused', config='x.py', amp=False)
    ow = prepare_cfg(cfg, args).optim_wrapper
    assert ow.type == 'OptimWrapper'
    assert 'dtype' not in ow and 'loss_scale' not in ow
    assert ow.optimizer.fused is True  # fused AdamW runs on CPU too
    assert ow.paramwise_cfg.layer_decay_rate == 0.65


def _steps(optim_cfg, steps=3):
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.backbone = RoPEViT(arch=dict(embed_dims=32, num_layers=2,
                                       num_heads=2), patch_size=8,
                             out_indices=(1, ))
    model.backbone.init_weights()
    wrapper = build_optim_wrapper(model, copy.deepcopy(optim_cfg))
    x = torch.randn(2, 3, 32, 32)
    for _ in range(steps):
        loss = model.backbone(x)[0].square().mean()
        wrapper.update_params(loss)
    return wrapper, [p.detach().clone() for p in model.parameters()]


def test_fused_adamw_step_equals_unfused():
    ow = _cfg('winwin_vitb_bdd100k').optim_wrapper.to_dict()
    optim_wrapper_without_cuda(ow)
    ow['paramwise_cfg']['num_layers'] = 2
    ow['optimizer']['lr'] = 1e-2  # large steps: differences would show
    start = _steps(ow, steps=0)[1]
    for steps, atol in ((1, 1e-7), (3, 1e-4)):
        fused, p_fused = _steps(ow, steps)
        assert fused.optimizer.defaults['fused'] is True
        assert len(fused.optimizer.param_groups) > 2  # layer decay kept
        for reference in (dict(fused=False, foreach=True),
                          dict(fused=False, foreach=False)):
            ref_cfg = copy.deepcopy(ow)
            ref_cfg['optimizer'].update(reference)
            _, p_ref = _steps(ref_cfg, steps)
            for a, b in zip(p_fused, p_ref):
                # one step: fp32 rounding; three: the trajectories drift by
                # < 1 % of an lr-sized step
                torch.testing.assert_close(a, b, rtol=0, atol=atol)
        # the steps moved the weights (not a vacuous comparison)
        assert max((a - s).abs().max() for a, s in zip(p_fused, start)) > \
            steps * 5e-3


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cuda_graph_compile_mode_is_refused_without_cuda():
    cfg = _cfg('winwin_vitb_bdd100k')
    cfg.compile = dict(mode='reduce-overhead')
    args = SimpleNamespace(launcher='none', cfg_options=None,
                           work_dir='/tmp/unused', config='x.py', amp=False)
    with pytest.raises(SystemExit, match='CUDA graphs and needs a CUDA GPU'):
        prepare_cfg(cfg, args)

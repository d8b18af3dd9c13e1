"""Counters of syncs, ops, launches and graph breaks (winwin_mm.utils.profiling)."""
import pytest
import torch

from winwin_mm.utils.profiling import (count_device_syncs, count_graph_breaks,
                                       count_kernel_launches, count_ops,
                                       explain_graph_breaks,
                                       find_device_syncs)


def _syncing_step(x, mask):
    a = x[mask]  # boolean index -> nonzero
    x[mask] = 0.  # boolean index_put -> nonzero
    b = torch.nonzero(x)
    c = bool((x > 10).any())  # _local_scalar_dense
    d = x.sum().item()  # _local_scalar_dense
    e = torch.unique(mask.long())
    f = torch.repeat_interleave(torch.tensor([1, 2]))  # host-sized output
    return a, b, c, d, e, f


def _sync_free_step(x, mask):
    idx = torch.arange(x.shape[0])
    a = x[idx]  # integer gather: no nonzero
    b = torch.where(mask, x, 0.).sum()
    c = x.masked_fill(mask, 1.)
    torch._assert_async((x > -1e9).all(), 'x is finite')
    n = (x > 0).sum()  # stays a tensor
    f = torch.repeat_interleave(torch.tensor([1, 2]), output_size=3)
    g = x.repeat_interleave(2)  # python int repeats: size known
    return a, b, c, n, f, g


def test_sync_ops_are_found_with_their_caller():
    x, mask = torch.randn(8), torch.arange(8) % 2 == 0
    events = find_device_syncs(_syncing_step, x, mask)
    ops = [e.op for e in events]
    assert ops == ['aten::index', 'aten::index_put_', 'aten::nonzero',
                   'aten::_local_scalar_dense', 'aten::_local_scalar_dense',
                   'aten::_unique2', 'aten::repeat_interleave'], ops
    assert all('test_profiling.py' in e.where and '_syncing_step' in e.where
               for e in events), events
    assert not any(e.on_device for e in events)  # a CPU run
    assert count_device_syncs(_syncing_step, x, mask) == 7


def test_sync_free_ops_are_not_counted():
    x, mask = torch.randn(8), torch.arange(8) % 2 == 0
    assert find_device_syncs(_sync_free_step, x, mask) == []


def test_backward_syncs_are_seen():
    x = torch.randn(6, requires_grad=True)
    mask = torch.tensor([True, False] * 3)

    def step():
        x[mask].sum().backward()  # index forward, index_put in backward

    assert [e.op for e in find_device_syncs(step)] == ['aten::index',
                                                      'aten::index_put']


def test_count_ops_counts_work_not_views():
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    ops = count_ops(lambda: (a.t().reshape(24) * 2 + b.reshape(24)).relu()
                    .view(6, 4).t())
    # flattening a transpose copies (clone); t, view and the reshape of a
    # contiguous tensor are free
    assert ops == {'aten::clone': 1, 'aten::mul': 1, 'aten::add': 1,
                   'aten::relu': 1}, ops
    # backward ops are counted too
    w = torch.randn(3, requires_grad=True)
    ops = count_ops(lambda: (w * w).sum().backward())
    assert ops['aten::mul'] >= 2 and ops['aten::sum'] == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_kernel_launches_are_none_without_cuda():
    assert count_kernel_launches(lambda: torch.randn(3) * 2) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_kernel_launches_on_cuda():
    x = torch.randn(16, device='cuda')
    assert count_kernel_launches(lambda: (x * 2 + 1).relu()) == 3


def test_graph_breaks():

    def broken(x):
        y = x * 2
        if y.sum().item() > 0:  # data-dependent branch: a graph break
            y = y + 1
        return y.cos()

    def whole(x):
        return (x * 2 + 1).cos().sum()

    x = torch.ones(5)
    assert count_graph_breaks(broken, x) == 1
    assert 'item' in explain_graph_breaks(broken, x)[0]
    assert count_graph_breaks(whole, x) == 0

# Full-resolution-trained baseline of configs/winwin_vitb_sintel.py: the same
# model, data, augmentation and schedule, but every token of the 368x496
# crop (713 per frame instead of Win-Win's 200) goes through the model: no
# RandomWindows, so the model trains on the whole crop. It is the quality
# ceiling Win-Win should match at a fraction of the training cost.
_base_ = ['./winwin_vitb_sintel.py']


def _without_windows(node):
    """Copy of a dataset config with RandomWindows removed from pipelines."""
    node = dict(node)
    if 'pipeline' in node:
        node['pipeline'] = [
            t for t in node['pipeline']
            if t['type'] != 'winwin_mm.RandomWindows'
        ]
    if 'dataset' in node:
        node['dataset'] = _without_windows(node['dataset'])
    if 'datasets' in node:
        node['datasets'] = [_without_windows(d) for d in node['datasets']]
    return node


train_pipeline = [
    t for t in _base_.train_pipeline if t['type'] != 'winwin_mm.RandomWindows'
]
train_dataloader = dict(
    dataset=_without_windows(_base_.train_dataloader.dataset))
model = dict(train_windows=False)  # explicit: no RandomWindows

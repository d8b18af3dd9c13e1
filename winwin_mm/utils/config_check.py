"""Start-up validation of a config, for keys from the file and from
``--cfg-options`` alike.

MMEngine's ``Config`` keeps every key it is given and its components read
most dicts with ``.get``, so a misspelt key is silently ignored
(``trian_cfg = ...``, ``model.test_cfg.mod='slide'``). :func:`validate_config`
refuses, with the nearest valid name (``difflib``):

* top-level keys that nothing reads: not a setting of MMEngine's ``Runner``
  (derived from ``Runner.__init__`` / ``Runner.from_cfg``) or of mmseg's
  tools, and not a variable whose value the config uses;
* keys of every ``type=...`` dict under ``model``, the loops
  (``train_cfg`` / ``val_cfg`` / ``test_cfg``), the dataloaders' datasets
  and their pipelines, and ``custom_hooks`` that the class's ``__init__``
  does not take (the signature along the MRO; classes that take
  ``**kwargs`` they do not pass on are skipped);
* keys of the model's ``test_cfg`` / ``train_cfg`` (and the data
  preprocessor's) that the class's source never reads;
* numbers out of range: iterations, intervals and batch sizes must be
  integers >= 1 (0 is never "use the default");
* a geometric transform after ``RandomWindows`` in a training pipeline.
"""
import ast
import difflib
import inspect
import re
from typing import Iterable, Optional

from mmengine.config import Config

from winwin_mm.utils.validation import ConfigError, check_count

# read by mmseg's tools and MMEngine's Runner wrappers besides Runner.__init__
TOOL_KEYS = ('tta_model', 'tta_pipeline', 'load_strict', 'runner_type',
             'custom_imports', 'model_wrapper_cfg', 'compile', 'strategy',
             'cfg', 'work_dir', 'launcher', 'resume', 'load_from')
# MMSegmentation 0.x settings MMEngine's Runner ignores, and their names now
LEGACY_KEYS = dict(
    optimizer='optim_wrapper=dict(optimizer=...)',
    optimizer_config='optim_wrapper (clip_grad=...)',
    lr_config='param_scheduler', runner='train_cfg=dict(type=...)',
    checkpoint_config='default_hooks.checkpoint',
    log_config='default_hooks.logger', evaluation='val_cfg / val_evaluator',
    data='train_dataloader / val_dataloader / test_dataloader',
    workflow='train_cfg', total_iters='train_cfg.max_iters')
# transforms that move pixels: windows sampled before them point elsewhere
GEOMETRIC = re.compile(r'Resize|Crop|Flip|Rotat|Scale|Affine|Mosaic|Expand|'
                       r'Zoom|Transpose')
WINDOW_TRANSFORMS = ('RandomWindows', )
# integer settings that must be >= 1, as (section, key)
COUNTS = (('train_cfg', 'max_iters'), ('train_cfg', 'max_epochs'),
          ('train_cfg', 'val_interval'))


def runtime_keys() -> frozenset:
    """Top-level keys something reads after the file is parsed: the
    arguments of MMEngine's ``Runner`` and the keys ``Runner.from_cfg``
    reads, plus mmseg's tools' (:data:`TOOL_KEYS`)."""
    from mmengine.runner import Runner
    keys = set(inspect.signature(Runner.__init__).parameters) - {'self'}
    src = inspect.getsource(Runner.from_cfg)
    keys |= set(re.findall(r"cfg(?:\.get\(|\[)'(\w+)'", src))
    return frozenset(keys | set(TOOL_KEYS))


def nearest(name: str, valid: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` or ``''``."""
    match = difflib.get_close_matches(name, sorted(valid), n=1,
                                      cutoff=cutoff)
    return f" (did you mean {match[0]!r}?)" if match else ''


# ------------------------------------------------------------ top level
def _contains(tree, value) -> bool:
    """Whether ``value`` (a config variable) was substituted somewhere in
    ``tree``: an equal value, a dict whose items all appear in one dict of
    the tree (``dict(dataset, data_prefix=...)``) or a list whose items
    appear in order in one list (``geometric_pipeline + [...]``)."""
    def same(a, b):
        try:
            return type(a) is type(b) and bool(a == b)
        except Exception:  # arrays
            return False

    if same(tree, value):
        return True
    if isinstance(value, dict) and value and isinstance(tree, dict) and all(
            k in tree and same(tree[k], v) for k, v in value.items()):
        return True
    if isinstance(value, (list, tuple)) and value and isinstance(
            tree, (list, tuple)):
        n = len(value)
        if any(all(same(a, b) for a, b in zip(tree[i:i + n], value))
               for i in range(len(tree) - n + 1)):
            return True
    items = tree.values() if isinstance(tree, dict) else tree \
        if isinstance(tree, (list, tuple)) else ()
    return any(_contains(v, value) for v in items)


def _paths_with_value(node, value, prefix='', out=None) -> list:
    """Dotted paths in a config tree whose value equals ``value``."""
    out = [] if out is None else out
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, (list, tuple)) else ()
    for k, v in items:
        path = f'{prefix}{k}'
        try:
            same = v == value and type(v) is type(value)
        except Exception:  # e.g. arrays
            same = False
        if same:
            out.append(path)
        elif isinstance(v, (dict, list, tuple)):
            _paths_with_value(v, value, path + '.', out)
    return out


def file_keys(path) -> Optional[set]:
    """Names a Python config file assigns at its top level (not those of
    its ``_base_`` files); None for other files."""
    if not path or not str(path).endswith('.py'):
        return None
    try:
        tree = ast.parse(open(path).read())
    except (OSError, SyntaxError):
        return None
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [
            node.target] if isinstance(node, (ast.AnnAssign,
                                              ast.AugAssign)) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def check_top_level(cfg: Config, source: str, cli_keys=()) -> None:
    """Refuse top-level keys nothing reads (see the module docstring) and
    ``--cfg-options`` on variables of the file (substituted when it was
    parsed: overriding them changes nothing)."""
    valid = runtime_keys()
    runtime = {k: v for k, v in cfg.items() if k in valid}
    for key in cli_keys:
        top = key.split('.')[0]
        if top in valid:
            continue
        if top in cfg:
            uses = _paths_with_value(runtime, cfg[top])
            # paths ending in the variable's name first (train_cfg.max_iters)
            uses = [p for p in uses if p.rsplit('.', 1)[-1] == top] or uses
            where = (' Override where its value is used instead, e.g. '
                     + ' '.join(f'{p}=...' for p in uses[:6])
                     if uses else '')
            raise ConfigError(
                f'--cfg-options {key}=...: {top!r} is a variable of the '
                'config file, substituted when the file was parsed; '
                'overriding it changes nothing.' + where)
        raise ConfigError(
            f'--cfg-options {key}=...: {top!r} is not a setting of this '
            f'config or of the runner, so it would be ignored'
            f'{nearest(top, valid)}. Check the spelling (e.g. '
            'train_cfg.max_iters, train_dataloader.dataset.data_root).')
    own = file_keys(cfg.filename)
    for key, value in cfg.items():
        if key in valid or key.startswith('_') or (
                own is not None and key not in own):
            continue  # inherited from a _base_ file: its variable
        if key in LEGACY_KEYS:
            raise ConfigError(
                f'{source}: top-level key {key!r} is a setting of '
                'MMSegmentation 0.x, which MMEngine\'s Runner does not read '
                f'(so it would be ignored). Fix: use {LEGACY_KEYS[key]} '
                'instead.')
        hint = nearest(key, valid, cutoff=0.8)
        # an unused key that is close to a setting is a misspelt setting;
        # other unused keys are variables (a _base_ file's, e.g.)
        if hint and not _contains(runtime, value):
            raise ConfigError(
                f'{source}: top-level key {key!r} is read by nothing: it is '
                'not a setting of MMEngine\'s Runner or of mmseg\'s tools, '
                f'and its value is used nowhere else in the config{hint}. '
                'Fix: correct its name, or delete it.')


# ------------------------------------------------------------ signatures
def accepted_args(cls) -> Optional[set]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up
    the MRO; None when some ``__init__`` takes ``**kwargs`` that do not
    reach a parent (nothing can be said)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return names
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {'self'}
        try:
            src = inspect.getsource(init)
        except (OSError, TypeError):
            return None
        # **kwargs consumed here, not passed on
        names |= set(re.findall(r"kwargs(?:\.pop\(|\.get\(|\[)'(\w+)'", src))
        if not re.search(r'super\(.*\)\.__init__\([^)]*\*\*kwargs|'
                         r'\w+\.__init__\(self[^)]*\*\*kwargs', src):
            return None
        if klass.__module__.startswith('torch.nn'):
            return names - {'self'}
    return names - {'self'}


def read_keys(classes, attr: str) -> set:
    """Keys the sources of ``classes`` (and their MROs) read from
    ``self.<attr>``: ``.<attr>.key``, ``<attr>.get('key'``,
    ``<attr>['key']``."""
    keys = set()
    for cls in classes:
        for klass in cls.__mro__:
            try:
                src = inspect.getsource(klass)
            except (OSError, TypeError):
                continue
            # local aliases: ``cfg = self.test_cfg``
            names = [attr] + re.findall(rf'(\w+) = self\.{attr}\b', src)
            for name in names:
                pattern = (rf"\b{name}(?:\.get\(|\[)['\"](\w+)['\"]|\b{name}"
                           r"\.(?!get\b|items\b|keys\b|copy\b|"
                           r"setdefault\b|pop\b|update\b)([a-z_]\w*)")
                for a, b in re.findall(pattern, src):
                    keys.add(a or b)
    return keys


class _Walker:
    """Checks the ``type=...`` dicts of a config tree against their
    classes' signatures."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.model_classes = []

    def resolve(self, registry, type_name, path):
        if not isinstance(type_name, str):
            return type_name if inspect.isclass(type_name) else None
        cls = registry.get(type_name)
        if cls is None:
            names, todo = [], [registry._get_root_registry()]
            while todo:  # every scope's names, as 'scope.Name'
                reg = todo.pop()
                names += list(reg.module_dict) + [
                    f'{reg.scope}.{n}' for n in reg.module_dict]
                todo += list(reg.children.values())
            raise ConfigError(
                f'{self.source}: {path}.type={type_name!r} is not registered '
                f'in the {registry.name} registry{nearest(type_name, names)}.'
                ' Fix: correct the name, or import the module that registers'
                ' it (custom_imports).')
        return cls

    def check(self, node: dict, path: str, registry, skip=()) -> type:
        cls = self.resolve(registry, node.get('type'), path)
        if cls is None or not inspect.isclass(cls):
            return None
        args = accepted_args(cls)
        if args is None:
            return cls
        for key in node:
            if key in ('type', '_scope_') or key in args or key in skip:
                continue
            raise ConfigError(
                f'{self.source}: {path}.{key}: {cls.__name__} takes no '
                f'argument {key!r}{nearest(key, args)}. Its arguments: '
                f'{", ".join(sorted(a for a in args if a not in ("args",)))}.')
        return cls

    def model(self, node, path: str) -> None:
        from mmseg.registry import MODELS
        if not isinstance(node, dict):
            return
        cls = self.check(node, path, MODELS) if 'type' in node else None
        if cls is not None:
            self.model_classes.append((cls, node, path))
        for key, value in node.items():
            if key.endswith('_cfg') and key not in ('model_cfg', ):
                continue  # norm_cfg / act_cfg / init_cfg / test_cfg: below
            if isinstance(value, dict):
                self.model(value, f'{path}.{key}')
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    self.model(v, f'{path}.{key}[{i}]')

    def read_cfgs(self) -> None:
        """``test_cfg`` / ``train_cfg`` dicts of the model (and nested
        modules) against the keys their classes' sources read."""
        classes = [c for c, _, _ in self.model_classes]
        for cls, node, path in self.model_classes:
            for attr in ('test_cfg', 'train_cfg'):
                sub = node.get(attr)
                if not isinstance(sub, dict) or not sub:
                    continue
                valid = read_keys(classes, attr)
                if not valid:
                    continue
                for key in sub:
                    if key not in valid:
                        raise ConfigError(
                            f'{self.source}: {path}.{attr}.{key}: nothing '
                            f'reads {attr} key {key!r}{nearest(key, valid)};'
                            ' it would be ignored. Keys read: '
                            f'{", ".join(sorted(valid))}.')

    def dataset(self, node, path: str, train: bool) -> None:
        from mmseg.registry import DATASETS, TRANSFORMS
        if not isinstance(node, dict) or 'type' not in node:
            return
        self.check(node, path, DATASETS)
        for key, value in node.items():
            if key in ('dataset', 'datasets'):
                for i, d in enumerate(value if isinstance(value, list)
                                      else [value]):
                    self.dataset(d, f'{path}.{key}' + (
                        f'[{i}]' if isinstance(value, list) else ''), train)
        pipeline = node.get('pipeline')
        if isinstance(pipeline, (list, tuple)):
            for i, t in enumerate(pipeline):
                if isinstance(t, dict) and 'type' in t:
                    self.check(t, f'{path}.pipeline[{i}]', TRANSFORMS)
                    if str(t['type']).startswith('winwin_mm.'):
                        try:  # ours: cheap to build, checks their numbers
                            TRANSFORMS.build(t)
                        except (ValueError, TypeError) as e:
                            raise ConfigError(
                                f'{self.source}: {path}.pipeline[{i}] '
                                f'({t["type"]}): {e}') from None
            if train:
                check_pipeline_order(pipeline, f'{self.source}: {path}')


def check_pipeline_order(pipeline, where: str) -> None:
    """Refuse a geometric transform after ``RandomWindows``: the windows
    were sampled on the image before it (a crop can leave them outside the
    image, a flip or resize moves the pixels under them)."""
    names = [str(t.get('type', '')).split('.')[-1] if isinstance(t, dict)
             else type(t).__name__ for t in pipeline]
    wins = [i for i, n in enumerate(names) if n in WINDOW_TRANSFORMS]
    if not wins:
        return
    after = [n for n in names[wins[0] + 1:] if GEOMETRIC.search(n)]
    if after:
        raise ConfigError(
            f'{where}: {after[0]} comes after RandomWindows in the training '
            f'pipeline ({" -> ".join(names)}). The windows are sampled on '
            f'the image as it is then; {after[0]} changes its geometry, so '
            'they would no longer cover the pixels they were drawn on (a '
            'crop can leave them outside the image, which fails mid-run). '
            'Fix: move RandomWindows after every resize / crop / flip, '
            'just before the Pack transform.')


def check_numbers(cfg: Config, source: str) -> None:
    """Iterations, intervals and batch sizes are integers >= 1."""
    for section, key in COUNTS:
        sec = cfg.get(section)
        if isinstance(sec, dict) and key in sec:
            check_count(sec[key], f'{source}: {section}.{key}')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg.get(loader)
        if isinstance(dl, dict) and 'batch_size' in dl:
            check_count(dl['batch_size'], f'{source}: {loader}.batch_size')
        if isinstance(dl, dict) and 'num_workers' in dl:
            check_count(dl['num_workers'], f'{source}: {loader}.num_workers',
                        minimum=0)
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, dict) and 'interval' in hook:
            check_count(hook['interval'],
                        f'{source}: default_hooks.{name}.interval')


def validate_config(cfg: Config, source: str = 'the config',
                    cli_keys=(), top_level: bool = True) -> None:
    """All checks of the module docstring; raises :class:`ConfigError`
    naming the file or ``--cfg-options`` key, and the fix.
    ``top_level=False`` skips :func:`check_top_level` (the tools run it on
    the file before merging ``--cfg-options``: an override can make a
    variable's value differ from where it was used)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import HOOKS, LOOPS
    init_default_scope(cfg.get('default_scope') or 'mmseg')
    if top_level:
        check_top_level(cfg, source, cli_keys)
    check_numbers(cfg, source)
    walker = _Walker(source)
    if isinstance(cfg.get('model'), dict):
        walker.model(cfg.model, 'model')
        walker.read_cfgs()
    for loop, default in (('train_cfg', None), ('val_cfg', 'ValLoop'),
                          ('test_cfg', 'TestLoop')):
        node = cfg.get(loop)
        if not isinstance(node, dict):
            continue
        if 'type' not in node:
            if loop == 'train_cfg':
                default = ('EpochBasedTrainLoop' if node.get('by_epoch')
                           else 'IterBasedTrainLoop')
            node = dict(node, type=default)
        walker.check(node, loop, LOOPS,
                     skip=('by_epoch', ) if loop == 'train_cfg' else ())
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg.get(loader)
        if isinstance(dl, dict):
            walker.dataset(dl.get('dataset'), f'{loader}.dataset',
                           train=loader == 'train_dataloader')
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and 'type' in hook:
            walker.check(hook, f'custom_hooks[{i}]', HOOKS,
                         skip=('priority', ))

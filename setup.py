"""winwin_mm: Win-Win high-resolution ViT training for OpenMMLab."""
import os.path as osp

from setuptools import find_packages, setup


def parse_requirements(fname):
    """Read pinned requirements, skipping comments."""
    with open(osp.join(osp.dirname(__file__), fname)) as f:
        return [ln.split('#')[0].strip() for ln in f
                if ln.split('#')[0].strip()]


def get_version():
    ns = {}
    with open(osp.join(osp.dirname(__file__), 'winwin_mm', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='winwin_mm',
    version=get_version(),
    description='Win-Win: training high-resolution vision transformers from '
    'two windows, as OpenMMLab (MMSegmentation / flow) components',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'dev': parse_requirements('requirements/dev.txt'),
        'mim': ['openmim==0.3.9', 'colorama', 'pandas', 'requests', 'tabulate'],
    },
    zip_safe=False,
)

from .report import aggregate, markdown, paired_differences, write_reports
from .study_config import (eval_every, image_grid, prepare_base, seeded,
                           split_path)
from .variants import VARIANTS, budget, make_variant, nearest_even

__all__ = ['VARIANTS', 'budget', 'make_variant', 'nearest_even',
           'prepare_base', 'eval_every', 'image_grid', 'seeded', 'split_path', 'aggregate',
           'markdown', 'paired_differences', 'write_reports']

from .variants import VARIANTS, budget, make_variant

__all__ = ['VARIANTS', 'budget', 'make_variant']

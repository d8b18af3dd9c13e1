from .flow_vis import (draw_error_colorbar, error_colors, flow_error_map,
                       flow_to_color, make_color_wheel)
from .flow_visualizer import FlowLocalVisualizer, flow_panel
from .panel_layout import PanelLayout, tile_grid

__all__ = ['flow_to_color', 'flow_error_map', 'error_colors',
           'draw_error_colorbar', 'make_color_wheel', 'FlowLocalVisualizer',
           'flow_panel', 'PanelLayout', 'tile_grid']

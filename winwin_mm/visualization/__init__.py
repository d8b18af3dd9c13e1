from .flow_vis import flow_error_map, flow_to_color, make_color_wheel
from .flow_visualizer import FlowLocalVisualizer, flow_panel

__all__ = ['flow_to_color', 'flow_error_map', 'make_color_wheel',
           'FlowLocalVisualizer', 'flow_panel']

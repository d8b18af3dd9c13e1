from .flow_vis import flow_error_map, flow_to_color, make_color_wheel

__all__ = ['flow_to_color', 'flow_error_map', 'make_color_wheel']

// Generated from image_analyzer/windows.py by `python -m local.web_presets`: do not edit.
// The CT presets (centre / width, Hounsfield units) the page offers besides the file's own window.
export const PRESETS = Object.freeze([
  {"name": "soft_tissue", "label": "soft tissue", "center": 40.0, "width": 400.0},
  {"name": "lung", "label": "lung", "center": -600.0, "width": 1500.0},
  {"name": "bone", "label": "bone", "center": 400.0, "width": 1800.0},
  {"name": "brain", "label": "brain", "center": 40.0, "width": 80.0},
  {"name": "liver", "label": "liver", "center": 60.0, "width": 150.0},
]);

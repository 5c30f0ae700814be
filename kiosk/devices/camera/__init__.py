"""Camera: a video source (OpenCV or simulated) captured on a worker thread."""

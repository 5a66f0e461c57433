"""Image file suffixes digitrec reads; dependency-free so the app can filter files at start-up."""

IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
    ".pbm", ".pgm", ".ppm", ".pnm",
)

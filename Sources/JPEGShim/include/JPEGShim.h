// libjpeg-turbo behind plain functions with setjmp error handling: a corrupt or truncated file
// returns an error code and message instead of calling exit() (libjpeg's default).
#ifndef JPEGSHIM_H
#define JPEGSHIM_H
#include <stddef.h>

/// Reads the header only: image size and components. Returns 0 or an error (message in err).
int jpegshim_info(const unsigned char *data, unsigned long size, int *width, int *height, int *components,
                  char *err, int errlen);

/// Decodes to 8-bit RGB (grayscale replicated, CMYK/YCCK converted). DCT-domain downscaling
/// (1/2, 1/4, 1/8) is chosen as the largest factor that keeps the decoded short side
/// >= min_short_side (0: full size). Images above max_pixels (before scaling) are refused.
/// On success *out is malloc'ed (free with jpegshim_free) and 0 is returned.
int jpegshim_decode_rgb(const unsigned char *data, unsigned long size, int min_short_side, long max_pixels,
                        unsigned char **out, int *width, int *height, int *scale_denom, char *err, int errlen);

/// Encodes 8-bit pixels (components 1 = gray, 3 = RGB) at the given quality.
int jpegshim_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                    unsigned char **out, unsigned long *size, char *err, int errlen);

void jpegshim_free(void *p);
#endif

// libjpeg-turbo with a setjmp/longjmp error manager (see include/JPEGShim.h).
#include "JPEGShim.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct shim_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *msg;
    int msglen;
    int damaged;          // a warning that means missing or corrupt scan data was seen
};

static void shim_error_exit(j_common_ptr cinfo) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    if (e->msg && e->msglen > 0) (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }   // warnings stay quiet

// Warnings: libjpeg keeps decoding truncated or corrupt data (filling with gray); PIL refuses
// such files, and so do we. Benign warnings (e.g. extraneous bytes before a marker) are ignored.
static void shim_emit_message(j_common_ptr cinfo, int level) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    if (level < 0) {
        int code = cinfo->err->msg_code;
        if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE) {
            if (!e->damaged && e->msg && e->msglen > 0) (*cinfo->err->format_message)(cinfo, e->msg);
            e->damaged = 1;
        }
        cinfo->err->num_warnings++;
    }
}

/* One error manager setup for every entry point: longjmp on errors, quiet warnings, damage tracking. */
static struct jpeg_error_mgr *shim_errors(struct shim_error *e, char *buf, int buflen) {
    struct jpeg_error_mgr *mgr = jpeg_std_error(&e->pub);
    e->pub.error_exit = shim_error_exit;
    e->pub.output_message = shim_output_message;
    e->pub.emit_message = shim_emit_message;
    e->msg = buf; e->msglen = buflen; e->damaged = 0;
    return mgr;
}

static void set_err(char *err, int errlen, const char *m) {
    if (err && errlen > 0) { strncpy(err, m, (size_t)errlen - 1); err[errlen - 1] = 0; }
}

int jpegshim_info(const unsigned char *data, unsigned long size, int *width, int *height, int *components,
                  char *err, int errlen) {
    struct jpeg_decompress_struct cinfo;
    struct shim_error jerr;
    char buf[JMSG_LENGTH_MAX] = {0};
    cinfo.err = shim_errors(&jerr, buf, sizeof buf);
    if (setjmp(jerr.jump)) { set_err(err, errlen, buf[0] ? buf : "not a JPEG"); jpeg_destroy_decompress(&cinfo); return 1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width; *height = (int)cinfo.image_height; *components = cinfo.num_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int jpegshim_decode_rgb(const unsigned char *data, unsigned long size, int min_short_side, long max_pixels,
                        unsigned char **out, int *width, int *height, int *scale_denom, char *err, int errlen) {
    struct jpeg_decompress_struct cinfo;
    struct shim_error jerr;
    char buf[JMSG_LENGTH_MAX] = {0};
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    *out = NULL;
    cinfo.err = shim_errors(&jerr, buf, sizeof buf);
    if (setjmp(jerr.jump)) {
        set_err(err, errlen, buf[0] ? buf : "corrupt JPEG");
        free(pixels); free(row);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width == 0 || cinfo.image_height == 0) { set_err(err, errlen, "empty image"); jpeg_destroy_decompress(&cinfo); return 2; }
    if (max_pixels > 0 && (long)cinfo.image_width * (long)cinfo.image_height > max_pixels) {
        snprintf(buf, sizeof buf, "image of %ux%u exceeds the %ld-pixel limit", cinfo.image_width, cinfo.image_height, max_pixels);
        set_err(err, errlen, buf); jpeg_destroy_decompress(&cinfo); return 3;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    int denom = 1;
    if (min_short_side > 0) {
        unsigned int shortSide = cinfo.image_width < cinfo.image_height ? cinfo.image_width : cinfo.image_height;
        for (int d = 8; d > 1; d /= 2) {
            if ((shortSide + (unsigned)d - 1) / (unsigned)d >= (unsigned)min_short_side) { denom = d; break; }
        }
    }
    cinfo.scale_num = 1; cinfo.scale_denom = (unsigned)denom;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, nc = cinfo.output_components;
    pixels = malloc((size_t)w * (size_t)h * 3);
    row = malloc((size_t)w * (size_t)nc);
    if (!pixels || !row) { set_err(err, errlen, "out of memory"); free(pixels); free(row); jpeg_destroy_decompress(&cinfo); return 4; }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = pixels + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW rows[1] = { cmyk ? row : dst };
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            // Adobe files store inverted CMYK; convert to RGB as R = C·K/255 (or the non-inverted form).
            int inverted = cinfo.saw_Adobe_marker;
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (unsigned char)((c * k + 127) / 255);
                dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
                dst[3 * x + 2] = (unsigned char)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (jerr.damaged) {
        char m[JMSG_LENGTH_MAX + 32];
        snprintf(m, sizeof m, "truncated or corrupt image data (%s)", buf);
        set_err(err, errlen, m);
        free(pixels);
        return 5;
    }
    *out = pixels; *width = w; *height = h; *scale_denom = denom;
    return 0;
}

int jpegshim_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                    unsigned char **out, unsigned long *size, char *err, int errlen) {
    struct jpeg_compress_struct cinfo;
    struct shim_error jerr;
    char buf[JMSG_LENGTH_MAX] = {0};
    *out = NULL; *size = 0;
    cinfo.err = shim_errors(&jerr, buf, sizeof buf);
    if (setjmp(jerr.jump)) { set_err(err, errlen, buf[0] ? buf : "encode failed"); jpeg_destroy_compress(&cinfo); free(*out); *out = NULL; return 1; }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, size);
    cinfo.image_width = (JDIMENSION)width; cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r[1] = { (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components) };
        jpeg_write_scanlines(&cinfo, r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

void jpegshim_free(void *p) { free(p); }

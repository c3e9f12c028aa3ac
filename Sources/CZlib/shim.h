// zlib: gzopen/gzread read gzip and plain files alike (IDX files of Fashion-MNIST).
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>
#endif

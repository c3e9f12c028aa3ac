// Open MPI handles are macros over incomplete structs that Swift cannot import; these static
// consts re-export them as values Swift can use.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H
#include <mpi.h>
static MPI_Comm     const CMPI_COMM_WORLD   = MPI_COMM_WORLD;
static MPI_Datatype const CMPI_FLOAT        = MPI_FLOAT;
static MPI_Datatype const CMPI_DOUBLE       = MPI_DOUBLE;
static MPI_Datatype const CMPI_INT32_T      = MPI_INT32_T;
static MPI_Datatype const CMPI_INT64_T      = MPI_INT64_T;
static MPI_Datatype const CMPI_UINT64_T     = MPI_UINT64_T;
static MPI_Datatype const CMPI_BYTE         = MPI_BYTE;
static MPI_Op       const CMPI_SUM          = MPI_SUM;
static MPI_Op       const CMPI_MAX          = MPI_MAX;
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
#endif

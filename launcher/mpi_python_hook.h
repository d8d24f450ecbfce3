// The sitecustomize.py envpack puts first on PYTHONPATH in MPI jobs (mounted read-only at
// /.envpack/python). A rank that ends with a non-zero `sys.exit()` or an uncaught exception after
// MPI_Init calls MPI_Abort with that code, as `python -m mpi4py` does; otherwise mpi4py's
// MPI_Finalize at exit waits for ranks blocked in a collective and the job hangs (NOTES.md). The
// image's own sitecustomize (Debian ships one) is loaded after it.
#pragma once

#include <string_view>

namespace envpack {

std::string_view mpi_sitecustomize();

}  // namespace envpack

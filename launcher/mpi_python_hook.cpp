#include "launcher/mpi_python_hook.h"

namespace envpack {

std::string_view mpi_sitecustomize() {
    return R"PY(# Written by envpack for MPI jobs (launcher/mpi_python_hook.h): a rank that ends with a
# non-zero sys.exit() or an uncaught exception after MPI_Init calls MPI_Abort with that code, so
# ranks blocked in a collective do not hang the job in MPI_Finalize.
def _envpack_mpi_abort_on_failure():
    import atexit, os, sys
    state = {"code": 0}
    real_exit = sys.exit

    def exit(code=None):
        if code is None:
            state["code"] = 0
        elif isinstance(code, int):
            state["code"] = code
        else:
            state["code"] = 1
        real_exit(code)

    real_hook = sys.excepthook

    def excepthook(kind, value, tb):
        state["code"] = 1
        real_hook(kind, value, tb)

    def abort():
        mpi = sys.modules.get("mpi4py.MPI")
        code = state["code"]
        if code and mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            mpi.COMM_WORLD.Abort(code & 0xFF or 1)

    sys.exit = exit
    sys.excepthook = excepthook
    atexit.register(abort)

    # The image's own sitecustomize, next on the path.
    import importlib.machinery, importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            break


_envpack_mpi_abort_on_failure()
)PY";
}

}  // namespace envpack

"""freshcast on a Dask cluster (`dask.distributed`, an engine the chain already runs; install
with ``pip install "freshcast[dask]"``). Nothing here is imported unless a scheduler is named,
so the local path neither needs nor loads Dask."""

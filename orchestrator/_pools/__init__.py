"""Work pools, their work queues and the job templates of flow runs; pure.

Holds the work-pool table (pools, their queues, the flow runs waiting in each), the
argument checks of pools, queues and deployments, and job configurations built from a
template: placeholders, variables, field conversion and the process worker's config.

May import: ``_core`` only.

Start with ``_work_pools.py`` (WorkPoolTable), then ``_job_config.py``.
"""

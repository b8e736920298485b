"""The use cases, as plain functions the CLI, the pages and the background jobs all call.

``workflows.read``: evaluate a model, read, explain or collect image files; ``workflows.train``: train
and record a run, resume it, average models into an ensemble, export a model. They return data
(dicts of JSON-ready values); printing and rendering are their callers' job.
"""

from digit_core.workflows.read import (collect_files, evaluate_model, explain_files, export_collection,
                                       load_predictor, predict_files, resolve_model_path)
from digit_core.workflows.train import (TrainingHooks, ensemble_and_record, export_model, resume_and_record,
                                        train_and_record)

__all__ = ["TrainingHooks", "collect_files", "ensemble_and_record", "evaluate_model", "explain_files",
           "export_collection", "export_model", "load_predictor", "predict_files",
           "resolve_model_path", "resume_and_record", "train_and_record"]

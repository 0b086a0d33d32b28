"""MLflow "model from code" entry point, copied into every logged shopguard model.

MLflow executes this file when the model is loaded; no pickled Python objects are stored.
"""

from mlflow.models import set_model

from tasks.registry.serving import ShopguardDetectorModel

set_model(ShopguardDetectorModel())

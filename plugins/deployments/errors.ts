/** The deployments plugin's error codes. */
import { createError, defineErrors } from "gantry/plugin";

export const DeploymentErrors = defineErrors("deployments", {
  DEPLOYMENT_NOT_FOUND: createError("DEPLOYMENT_NOT_FOUND", 404, (model: string) => `No deployment '${model}'; list them at GET /api/v1/deployments`),
  VERSION_NOT_FOUND: createError("VERSION_NOT_FOUND", 404, (version: string) => `No instance '${version}' to serve as a version; create it at POST /api/v1/instances`),
  VERSION_IS_LIVE: createError("VERSION_IS_LIVE", 409, (model: string, version: string, what: string) => `'${version}' is ${what} for '${model}'; promote another version first`),
  PROMOTION_PENDING: createError("PROMOTION_PENDING", 409, (model: string, id: string) => `A promotion of '${model}' is waiting for approval (${id}); decide it at /api/v1/approvals first`),
  NOTHING_TO_ROLL_BACK: createError("NOTHING_TO_ROLL_BACK", 409, (model: string) => `'${model}' has no previous version to roll back to`),
  SHADOW_RUNNING: createError("SHADOW_RUNNING", 409, (model: string, challenger: string) => `'${model}' is already shadowed to '${challenger}'; stop it with POST /api/v1/deployments/shadow-stop`),
  NO_SHADOW: createError("NO_SHADOW", 404, (model: string) => `'${model}' has no shadow run; start one with POST /api/v1/deployments/shadow-start`),
  NO_CHAMPION: createError("NO_CHAMPION", 409, (model: string) => `'${model}' has no live version to compare or shadow; promote one first`),
  SAME_VERSION: createError("SAME_VERSION", 400, (version: string) => `Champion and challenger are both '${version}'; name another challenger`),
  APPROVALS_UNAVAILABLE: createError("APPROVALS_UNAVAILABLE", 503, () => "Promotions need an approval gate: enable the agent plugin, which provides approvals"),
  EVALUATIONS_UNAVAILABLE: createError("EVALUATIONS_UNAVAILABLE", 503, () => "A dataset comparison runs through the evaluations plugin, which is not enabled; compare without dataset, or enable it"),
  NOTHING_TO_COMPARE: createError("NOTHING_TO_COMPARE", 409, (model: string, challenger: string) => `No shadow data for '${challenger}' against '${model}' and no dataset given; shadow it first or give a dataset`),
  ARTIFACT_NOT_FOUND: createError("ARTIFACT_NOT_FOUND", 404, (id: string) => `No deployment artifact '${id}'; list them at GET /api/v1/deployments/artifacts`),
  MODEL_NAME_INVALID: createError("MODEL_NAME_INVALID", 400, () => "The model name in the path is not valid URL encoding; encode it with encodeURIComponent"),
  PACKAGE_SOURCE: createError("PACKAGE_SOURCE", 400, (why: string) => `Cannot package: ${why}`),
});

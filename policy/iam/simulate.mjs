// Decides IAM requests offline with @cloud-copilot/iam-simulate (pinned in package-lock.json).
// stdin: a JSON list of {principal, action, resource, account, context, policies: [{name, policy}]}.
// stdout: a JSON list of decisions, in order: "Allowed", "ImplicitlyDenied", "ExplicitlyDenied",
// or "Error: ..." when the simulator rejects the request (an unknown action, a malformed ARN, ...).
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const decisions = []
for (const r of requests) {
  const response = await runSimulation(
    {
      identityPolicies: r.policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: r.principal,
        action: r.action,
        resource: { resource: r.resource, accountId: r.account },
        contextVariables: r.context ?? {},
      },
    },
    {},
  )
  if (response.resultType === 'error') {
    decisions.push(`Error: ${JSON.stringify(response.errors)}`)
  } else {
    decisions.push(response.overallResult)
  }
}
process.stdout.write(JSON.stringify(decisions))

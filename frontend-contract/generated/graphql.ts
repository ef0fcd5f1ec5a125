/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type * as Types from './schema';

export type ApiKeysQueryVariables = Exact<{
  teamSlug: string;
}>;


export type ApiKeysQuery = { teamBySlug: { id: string, apiKeys: Array<{ id: string, name: string, prefix: string, scopes: Array<Types.ApiKeyScope>, createdAt: string, expiresAt: string | null, lastUsedAt: string | null, revokedAt: string | null }> } };

export type CreateApiKeyMutationVariables = Exact<{
  input: Types.CreateApiKeyInput;
}>;


export type CreateApiKeyMutation = { createApiKey: { secret: string | null, apiKey: { id: string, name: string, prefix: string, scopes: Array<Types.ApiKeyScope>, createdAt: string, expiresAt: string | null, lastUsedAt: string | null, revokedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type RevokeApiKeyMutationVariables = Exact<{
  input: Types.RevokeApiKeyInput;
}>;


export type RevokeApiKeyMutation = { revokeApiKey: { apiKey: { id: string, name: string, prefix: string, scopes: Array<Types.ApiKeyScope>, createdAt: string, expiresAt: string | null, lastUsedAt: string | null, revokedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type AuditLogQueryVariables = Exact<{
  teamSlug: string;
  first?: number;
  after?: string | null | undefined;
  filter?: Types.AuditLogFilter | null | undefined;
}>;


export type AuditLogQuery = { teamBySlug: { id: string, auditLog: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, action: string, targetType: string, targetId: string, actorUserId: string | null, actorApiKeyId: string | null, requestId: string, ip: string, userAgent: string, changes: unknown, createdAt: string } }> } } };

export type LogInMutationVariables = Exact<{
  input: Types.LogInInput;
}>;


export type LogInMutation = { logIn: { accessToken: string | null, accessTokenExpiresAt: string | null, refreshToken: string | null, refreshTokenExpiresAt: string | null, user: { id: string, email: string, name: string, createdAt: string } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type SignUpMutationVariables = Exact<{
  input: Types.SignUpInput;
}>;


export type SignUpMutation = { signUp: { accessToken: string | null, accessTokenExpiresAt: string | null, refreshToken: string | null, refreshTokenExpiresAt: string | null, user: { id: string, email: string, name: string, createdAt: string } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type RefreshSessionMutationVariables = Exact<{
  input: Types.RefreshSessionInput;
}>;


export type RefreshSessionMutation = { refreshSession: { accessToken: string | null, accessTokenExpiresAt: string | null, refreshToken: string | null, refreshTokenExpiresAt: string | null, user: { id: string, email: string, name: string, createdAt: string } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type LogOutMutationVariables = Exact<{
  input: Types.LogOutInput;
}>;


export type LogOutMutation = { logOut: { ok: boolean, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type BuildSummaryFieldsFragment = { id: string, number: number, status: Types.BuildStatus, currentStep: Types.BuildStep | null, gitRef: string, commitSha: string | null, trigger: Types.BuildTrigger, reason: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null };

export type BuildLogLineFieldsFragment = { seq: number, at: string, stream: Types.LogStream, step: string | null, text: string, truncated: boolean };

export type ProjectBuildsQueryVariables = Exact<{
  projectId: string | number;
  first?: number;
  after?: string | null | undefined;
}>;


export type ProjectBuildsQuery = { project: { id: string, builds: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, nodes: Array<{ id: string, number: number, status: Types.BuildStatus, currentStep: Types.BuildStep | null, gitRef: string, commitSha: string | null, trigger: Types.BuildTrigger, reason: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null }> } } };

export type BuildDetailQueryVariables = Exact<{
  id: string | number;
  logsAfter?: string | null | undefined;
  filter?: Types.BuildLogFilter | null | undefined;
}>;


export type BuildDetailQuery = { build: { projectId: string, framework: string | null, cacheHit: boolean | null, artifactSha256: string | null, artifactSize: number | null, id: string, number: number, status: Types.BuildStatus, currentStep: Types.BuildStep | null, gitRef: string, commitSha: string | null, trigger: Types.BuildTrigger, reason: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, steps: Array<{ name: string, status: string, startedAt: string | null, finishedAt: string | null, durationMs: number | null, exitCode: number | null }>, logs: { lines: Array<{ seq: number, at: string, stream: Types.LogStream, step: string | null, text: string, truncated: boolean }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } } };

export type TriggerBuildMutationVariables = Exact<{
  input: Types.TriggerBuildInput;
}>;


export type TriggerBuildMutation = { triggerBuild: { build: { id: string, number: number, status: Types.BuildStatus, currentStep: Types.BuildStep | null, gitRef: string, commitSha: string | null, trigger: Types.BuildTrigger, reason: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type CancelBuildMutationVariables = Exact<{
  buildId: string | number;
}>;


export type CancelBuildMutation = { cancelBuild: { build: { id: string, number: number, status: Types.BuildStatus, currentStep: Types.BuildStep | null, gitRef: string, commitSha: string | null, trigger: Types.BuildTrigger, reason: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type RotateProjectWebhookSecretMutationVariables = Exact<{
  projectId: string | number;
}>;


export type RotateProjectWebhookSecretMutation = { rotateProjectWebhookSecret: { secret: string | null, webhookUrl: string | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type SetProjectGitCredentialMutationVariables = Exact<{
  projectId: string | number;
  token?: string | null | undefined;
}>;


export type SetProjectGitCredentialMutation = { setProjectGitCredential: { ok: boolean, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type BuildLogsSubscriptionVariables = Exact<{
  buildId: string | number;
  after?: string | null | undefined;
}>;


export type BuildLogsSubscription = { buildLogs: { cursor: string, lines: Array<{ seq: number, at: string, stream: Types.LogStream, step: string | null, text: string, truncated: boolean }> } };

export type BuildEventsSubscriptionVariables = Exact<{
  buildId: string | number;
}>;


export type BuildEventsSubscription = { buildEvents: { status: Types.BuildStatus, step: Types.BuildStep | null, reason: string | null, message: string | null, at: string } };

export type DeploymentFieldsFragment = { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null };

export type ProjectDeploymentsQueryVariables = Exact<{
  projectId: string | number;
  first?: number;
  after?: string | null | undefined;
  environment?: string | null | undefined;
}>;


export type ProjectDeploymentsQuery = { project: { id: string, deployments: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, nodes: Array<{ id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, build: { id: string, number: number, gitRef: string, commitSha: string | null } }> } } };

export type ActiveDeploymentsQueryVariables = Exact<{
  projectId: string | number;
  environment?: string;
}>;


export type ActiveDeploymentsQuery = { project: { id: string, activeDeployments: Array<{ id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null }> } };

export type DeploymentByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type DeploymentByIdQuery = { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } };

export type DeployMutationVariables = Exact<{
  input: Types.DeployInput;
}>;


export type DeployMutation = { deploy: { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type CancelDeploymentMutationVariables = Exact<{
  deploymentId: string | number;
}>;


export type CancelDeploymentMutation = { cancelDeployment: { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type PromoteDeploymentMutationVariables = Exact<{
  deploymentId: string | number;
}>;


export type PromoteDeploymentMutation = { promoteDeployment: { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type SetTrafficSplitMutationVariables = Exact<{
  deploymentId: string | number;
  weight: number;
}>;


export type SetTrafficSplitMutation = { setTrafficSplit: { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type RollbackDeploymentMutationVariables = Exact<{
  deploymentId: string | number;
}>;


export type RollbackDeploymentMutation = { rollbackDeployment: { deployment: { id: string, number: number, environment: string, url: string, strategy: Types.DeploymentStrategy, status: Types.DeploymentStatus, trafficWeight: number, replicas: number, reason: string | null, message: string | null, buildId: string, retainedUntil: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null } | null, serving: Array<{ id: string, trafficWeight: number }>, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type DeploymentTimelineSubscriptionVariables = Exact<{
  deploymentId: string | number;
  after?: string | null | undefined;
}>;


export type DeploymentTimelineSubscription = { deploymentEvents: { seq: number, at: string, kind: Types.DeploymentEventKind, status: Types.DeploymentStatus, step: string | null, message: string | null, payload: unknown } };

export type DeploymentLogsSubscriptionVariables = Exact<{
  deploymentId: string | number;
  after?: string | null | undefined;
}>;


export type DeploymentLogsSubscription = { deploymentLogs: { cursor: string, lines: Array<{ seq: number, at: string, stream: Types.LogStream, replica: number, text: string }> } };

export type UserErrorFieldsFragment = { code: Types.UserErrorCode, message: string, field: Array<string> | null };

export type PageInfoFieldsFragment = { hasNextPage: boolean, endCursor: string | null };

export type UserFieldsFragment = { id: string, email: string, name: string, createdAt: string };

export type TeamFieldsFragment = { id: string, name: string, slug: string, createdAt: string };

export type TeamMemberFieldsFragment = { id: string, role: Types.TeamRole, joinedAt: string, user: { id: string, email: string, name: string, createdAt: string } };

export type EnvironmentVariableFieldsFragment = { id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string };

export type EnvironmentFieldsFragment = { id: string, name: string, kind: Types.EnvironmentKind, branch: string | null, url: string | null, expiresAt: string | null, expiredAt: string | null, createdAt: string, variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }> };

export type ProjectSummaryFieldsFragment = { id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string };

export type ProjectFieldsFragment = { rootDirectory: string, installCommand: string | null, buildCommand: string | null, startCommand: string | null, outputDirectory: string | null, healthCheckPath: string, autoDeploy: boolean, createdAt: string, id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string, environments: Array<{ id: string, name: string, kind: Types.EnvironmentKind, branch: string | null, url: string | null, expiresAt: string | null, expiredAt: string | null, createdAt: string, variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }> }> };

export type ApiKeyFieldsFragment = { id: string, name: string, prefix: string, scopes: Array<Types.ApiKeyScope>, createdAt: string, expiresAt: string | null, lastUsedAt: string | null, revokedAt: string | null };

export type AuditLogEntryFieldsFragment = { id: string, action: string, targetType: string, targetId: string, actorUserId: string | null, actorApiKeyId: string | null, requestId: string, ip: string, userAgent: string, changes: unknown, createdAt: string };

export type SessionFieldsFragment = { accessToken: string | null, accessTokenExpiresAt: string | null, refreshToken: string | null, refreshTokenExpiresAt: string | null, user: { id: string, email: string, name: string, createdAt: string } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> };

export type InviteTeamMemberMutationVariables = Exact<{
  input: Types.InviteTeamMemberInput;
}>;


export type InviteTeamMemberMutation = { inviteTeamMember: { token: string | null, invitation: { id: string, email: string, role: Types.TeamRole, expiresAt: string } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type AcceptTeamInvitationMutationVariables = Exact<{
  input: Types.AcceptTeamInvitationInput;
}>;


export type AcceptTeamInvitationMutation = { acceptTeamInvitation: { member: { id: string, role: Types.TeamRole, joinedAt: string, user: { id: string, email: string, name: string, createdAt: string } } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type UpdateTeamMemberRoleMutationVariables = Exact<{
  input: Types.UpdateTeamMemberRoleInput;
}>;


export type UpdateTeamMemberRoleMutation = { updateTeamMemberRole: { member: { id: string, role: Types.TeamRole, joinedAt: string, user: { id: string, email: string, name: string, createdAt: string } } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type RemoveTeamMemberMutationVariables = Exact<{
  input: Types.RemoveTeamMemberInput;
}>;


export type RemoveTeamMemberMutation = { removeTeamMember: { removedMemberId: string | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type ProjectListQueryVariables = Exact<{
  teamSlug: string;
  first?: number;
  after?: string | null | undefined;
}>;


export type ProjectListQuery = { teamBySlug: { id: string, name: string, slug: string, createdAt: string, members: Array<{ id: string, role: Types.TeamRole, joinedAt: string, user: { id: string, email: string, name: string, createdAt: string } }>, projects: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, nodes: Array<{ id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string, environments: Array<{ id: string, name: string, kind: Types.EnvironmentKind, variables: Array<{ id: string, key: string, updatedAt: string }> }> }> } } };

export type ProjectDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type ProjectDetailQuery = { project: { rootDirectory: string, installCommand: string | null, buildCommand: string | null, startCommand: string | null, outputDirectory: string | null, healthCheckPath: string, autoDeploy: boolean, createdAt: string, id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string, environments: Array<{ id: string, name: string, kind: Types.EnvironmentKind, branch: string | null, url: string | null, expiresAt: string | null, expiredAt: string | null, createdAt: string, variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }> }> } };

export type CreateProjectMutationVariables = Exact<{
  input: Types.CreateProjectInput;
}>;


export type CreateProjectMutation = { createProject: { project: { rootDirectory: string, installCommand: string | null, buildCommand: string | null, startCommand: string | null, outputDirectory: string | null, healthCheckPath: string, autoDeploy: boolean, createdAt: string, id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string, environments: Array<{ id: string, name: string, kind: Types.EnvironmentKind, branch: string | null, url: string | null, expiresAt: string | null, expiredAt: string | null, createdAt: string, variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }> }> } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type UpdateProjectMutationVariables = Exact<{
  input: Types.UpdateProjectInput;
}>;


export type UpdateProjectMutation = { updateProject: { project: { rootDirectory: string, installCommand: string | null, buildCommand: string | null, startCommand: string | null, outputDirectory: string | null, healthCheckPath: string, autoDeploy: boolean, createdAt: string, id: string, name: string, slug: string, gitUrl: string, productionBranch: string, framework: Types.Framework, updatedAt: string, environments: Array<{ id: string, name: string, kind: Types.EnvironmentKind, branch: string | null, url: string | null, expiresAt: string | null, expiredAt: string | null, createdAt: string, variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }> }> } | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type DeleteProjectMutationVariables = Exact<{
  input: Types.DeleteProjectInput;
}>;


export type DeleteProjectMutation = { deleteProject: { deletedProjectId: string | null, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type ViewerEventsSubscriptionVariables = Exact<{
  heartbeatMs?: number;
  first?: number | null | undefined;
}>;


export type ViewerEventsSubscription = { viewerEvents:
    | { __typename: 'AuditEvent', cursor: string, entry: { id: string, action: string, targetType: string, targetId: string, actorUserId: string | null, actorApiKeyId: string | null, requestId: string, ip: string, userAgent: string, changes: unknown, createdAt: string } }
    | { __typename: 'Heartbeat', at: string }
   };

export type ProjectActivitySubscriptionVariables = Exact<{
  projectId: string | number;
  after?: string | null | undefined;
}>;


export type ProjectActivitySubscription = { projectActivity: { cursor: string, subject: Types.ActivitySubject, buildId: string | null, deploymentId: string | null, number: number, status: string, event: Types.DeploymentEventKind | null, message: string | null, at: string } };

export type TeamListQueryVariables = Exact<{ [key: string]: never; }>;


export type TeamListQuery = { viewer: { teams: Array<{ id: string, name: string, slug: string, createdAt: string }> } };

export type TeamDetailQueryVariables = Exact<{
  slug: string;
}>;


export type TeamDetailQuery = { teamBySlug: { id: string, name: string, slug: string, createdAt: string, members: Array<{ id: string, role: Types.TeamRole, joinedAt: string, user: { id: string, email: string, name: string, createdAt: string } }> } };

export type UpsertEnvironmentVariablesMutationVariables = Exact<{
  input: Types.UpsertEnvironmentVariablesInput;
}>;


export type UpsertEnvironmentVariablesMutation = { upsertEnvironmentVariables: { variables: Array<{ id: string, key: string, valueDigest: string, createdAt: string, updatedAt: string }>, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type DeleteEnvironmentVariablesMutationVariables = Exact<{
  input: Types.DeleteEnvironmentVariablesInput;
}>;


export type DeleteEnvironmentVariablesMutation = { deleteEnvironmentVariables: { deletedKeys: Array<string>, userErrors: Array<{ code: Types.UserErrorCode, message: string, field: Array<string> | null }> } };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { user: { id: string, email: string, name: string, createdAt: string }, teams: Array<{ id: string, name: string, slug: string, createdAt: string }> } };

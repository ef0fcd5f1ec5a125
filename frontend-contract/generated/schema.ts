export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** Date with time (isoformat) */
  DateTime: { input: string; output: string; }
  /** The `JSON` scalar type represents JSON values as specified by [ECMA-404](https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf). */
  JSON: { input: unknown; output: unknown; }
};

/** Accept an invitation sent to the caller's email. */
export type AcceptTeamInvitationInput = {
  /** Token from inviteTeamMember. */
  token: Scalars['String']['input'];
};

/** What an activity entry is about. */
export type ActivitySubject =
  | 'BUILD'
  | 'DEPLOYMENT';

/** A team API key. The secret is shown only once, at creation. */
export type ApiKey = Node & {
  __typename?: 'ApiKey';
  /** Creation time. */
  createdAt: Scalars['DateTime']['output'];
  /** Expiry, if any. */
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Last use (updated at most once a minute). */
  lastUsedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Label chosen at creation. */
  name: Scalars['String']['output'];
  /** Public start of the key, to recognise it. */
  prefix: Scalars['String']['output'];
  /** Revocation time, if revoked. */
  revokedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Granted scopes. */
  scopes: Array<ApiKeyScope>;
};

/** What an API key may do. */
export type ApiKeyScope =
  | 'ADMIN'
  | 'DEPLOY'
  | 'READ'
  | 'WRITE';

/** A mutation was recorded in one of the viewer's teams. */
export type AuditEvent = {
  __typename?: 'AuditEvent';
  /** Stream position of this event. */
  cursor: Scalars['String']['output'];
  /** The audit entry. */
  entry: AuditLogEntry;
};

/** A page of audit entries, newest first. */
export type AuditLogConnection = {
  __typename?: 'AuditLogConnection';
  /** Entries with cursors. */
  edges: Array<AuditLogEdge>;
  /** Entries of this page. */
  nodes: Array<AuditLogEntry>;
  /** Pagination state. */
  pageInfo: PageInfo;
};

/** An edge of an AuditLogConnection. */
export type AuditLogEdge = {
  __typename?: 'AuditLogEdge';
  /** Cursor of this entry. */
  cursor: Scalars['String']['output'];
  /** The entry. */
  node: AuditLogEntry;
};

/** One recorded mutation. */
export type AuditLogEntry = Node & {
  __typename?: 'AuditLogEntry';
  /** What was done, e.g. `project.update`. */
  action: Scalars['String']['output'];
  /** API key used, if the actor used one. */
  actorApiKeyId?: Maybe<Scalars['ID']['output']>;
  /** User who acted. */
  actorUserId?: Maybe<Scalars['ID']['output']>;
  /** Changed fields; secret values never appear. */
  changes: Scalars['JSON']['output'];
  /** When it happened. */
  createdAt: Scalars['DateTime']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Client address. */
  ip: Scalars['String']['output'];
  /** Request id, as in logs and X-Request-Id. */
  requestId: Scalars['String']['output'];
  /** Id of the object acted on (raw id). */
  targetId: Scalars['String']['output'];
  /** Kind of object acted on. */
  targetType: Scalars['String']['output'];
  /** Client user agent. */
  userAgent: Scalars['String']['output'];
};

/** Narrow the audit log; all given conditions must hold. */
export type AuditLogFilter = {
  /** Any of actions. */
  actions?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Actor. */
  actorUserId?: InputMaybe<Scalars['ID']['input']>;
  /** At or after. */
  since?: InputMaybe<Scalars['DateTime']['input']>;
  /** Raw id of target. */
  targetId?: InputMaybe<Scalars['String']['input']>;
  /** Kind of target. */
  targetType?: InputMaybe<Scalars['String']['input']>;
  /** Before. */
  until?: InputMaybe<Scalars['DateTime']['input']>;
};

/** Credentials of a session. Keep the refresh token secret. */
export type AuthPayload = {
  __typename?: 'AuthPayload';
  /** Bearer token for requests. */
  accessToken?: Maybe<Scalars['String']['output']>;
  /** Its expiry. */
  accessTokenExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** Exchange with refreshSession for new tokens; single use. */
  refreshToken?: Maybe<Scalars['String']['output']>;
  /** Its expiry. */
  refreshTokenExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** The signed-in user. */
  user?: Maybe<User>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** One build of a project at a git commit. */
export type Build = Node & {
  __typename?: 'Build';
  /** sha256 of the artifact. */
  artifactSha256?: Maybe<Scalars['String']['output']>;
  /** Artifact size in bytes. */
  artifactSize?: Maybe<Scalars['Int']['output']>;
  /** Dependency cache restored. */
  cacheHit?: Maybe<Scalars['Boolean']['output']>;
  /** Resolved commit. */
  commitSha?: Maybe<Scalars['String']['output']>;
  /** When it was queued. */
  createdAt: Scalars['DateTime']['output'];
  /** Step now running. */
  currentStep?: Maybe<BuildStep>;
  /** When it ended. */
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Detected build kind. */
  framework?: Maybe<Scalars['String']['output']>;
  /** Requested branch, tag or commit. */
  gitRef: Scalars['String']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Log history, oldest first (at most 1,000 lines a page). */
  logs: BuildLogConnection;
  /** Human explanation of the outcome. */
  message?: Maybe<Scalars['String']['output']>;
  /** Per-project build number. */
  number: Scalars['Int']['output'];
  /** Project built. */
  projectId: Scalars['ID']['output'];
  /** Why it did not succeed: STEP_FAILED, TIMED_OUT, CANCELED, WORKER_LOST, DETECTION_FAILED, SOURCE_ERROR, RESOURCE_LIMIT, OUTPUT_LIMIT. */
  reason?: Maybe<Scalars['String']['output']>;
  /** When it started running. */
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Current status. */
  status: BuildStatus;
  /** Steps run so far, in order. */
  steps: Array<BuildStepRun>;
  /** What started it. */
  trigger: BuildTrigger;
};


/** One build of a project at a git commit. */
export type BuildLogsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<BuildLogFilter>;
  first?: Scalars['Int']['input'];
};

/** A page of builds, newest first. */
export type BuildConnection = {
  __typename?: 'BuildConnection';
  /** Builds with cursors. */
  edges: Array<BuildEdge>;
  /** Builds of this page. */
  nodes: Array<Build>;
  /** Pagination state. */
  pageInfo: PageInfo;
};

/** An edge of a BuildConnection. */
export type BuildEdge = {
  __typename?: 'BuildEdge';
  /** Cursor of this build. */
  cursor: Scalars['String']['output'];
  /** The build. */
  node: Build;
};

/** A status or step change of a build. */
export type BuildEvent = {
  __typename?: 'BuildEvent';
  /** When it changed. */
  at: Scalars['DateTime']['output'];
  /** Explanation. */
  message?: Maybe<Scalars['String']['output']>;
  /** Failure reason, when ended. */
  reason?: Maybe<Scalars['String']['output']>;
  /** Status after the change. */
  status: BuildStatus;
  /** Step running after the change. */
  step?: Maybe<BuildStep>;
};

/** A batch of live log lines. */
export type BuildLogBatch = {
  __typename?: 'BuildLogBatch';
  /** Pass as `after` to resume after this batch. */
  cursor: Scalars['String']['output'];
  /** Lines, in order. */
  lines: Array<BuildLogLine>;
};

/** A page of build log lines, oldest first. */
export type BuildLogConnection = {
  __typename?: 'BuildLogConnection';
  /** Lines of this page. */
  lines: Array<BuildLogLine>;
  /** Pass endCursor as `after`. */
  pageInfo: PageInfo;
};

/** Narrow the log; all given conditions must hold. */
export type BuildLogFilter = {
  /** Text contained. */
  search?: InputMaybe<Scalars['String']['input']>;
  /** Steps. */
  steps?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Streams. */
  streams?: InputMaybe<Array<LogStream>>;
};

/** A line of build output. */
export type BuildLogLine = {
  __typename?: 'BuildLogLine';
  /** When the line was emitted. */
  at: Scalars['DateTime']['output'];
  /** Per-build sequence number; the cursor. */
  seq: Scalars['Int']['output'];
  /** Step that printed it. */
  step?: Maybe<Scalars['String']['output']>;
  /** stdout, stderr or system. */
  stream: LogStream;
  /** The line, ANSI colour codes preserved. */
  text: Scalars['String']['output'];
  /** True when the line was cut at the limit. */
  truncated: Scalars['Boolean']['output'];
};

/** Result of triggerBuild / cancelBuild. */
export type BuildPayload = {
  __typename?: 'BuildPayload';
  /** The build, unless userErrors. */
  build?: Maybe<Build>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Where a build is in its life. */
export type BuildStatus =
  | 'CANCELED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'TIMED_OUT';

/** A phase of a build. */
export type BuildStep =
  | 'BUILD'
  | 'CLONE'
  | 'INSTALL'
  | 'PACKAGE';

/** One step of a build with its timing. */
export type BuildStepRun = {
  __typename?: 'BuildStepRun';
  /** Duration in milliseconds. */
  durationMs?: Maybe<Scalars['Int']['output']>;
  /** Exit code of the step's command. */
  exitCode?: Maybe<Scalars['Int']['output']>;
  /** End time. */
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** clone, install, build or package. */
  name: Scalars['String']['output'];
  /** Start time. */
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** running, succeeded, failed, canceled... */
  status: Scalars['String']['output'];
};

/** What started a build. */
export type BuildTrigger =
  | 'MANUAL'
  | 'PUSH';

/** Build to cancel. */
export type CancelBuildInput = {
  /** Build to cancel. */
  buildId: Scalars['ID']['input'];
};

/** A new team API key. */
export type CreateApiKeyInput = {
  /** Optional expiry. */
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** Label. */
  name: Scalars['String']['input'];
  /** At least one scope. */
  scopes: Array<ApiKeyScope>;
  /** Team the key acts in. */
  teamId: Scalars['ID']['input'];
};

/** Result of createApiKey. `secret` is shown only here. */
export type CreateApiKeyPayload = {
  __typename?: 'CreateApiKeyPayload';
  /** The key's metadata. */
  apiKey?: Maybe<ApiKey>;
  /** The full key; store it now. */
  secret?: Maybe<Scalars['String']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Settings of a new project. */
export type CreateProjectInput = {
  /** Pushes deploy (default true). */
  autoDeploy?: InputMaybe<Scalars['Boolean']['input']>;
  /** Build step. */
  buildCommand?: InputMaybe<Scalars['String']['input']>;
  /** Default `auto`. */
  framework?: InputMaybe<Framework>;
  /** Repository URL. */
  gitUrl?: InputMaybe<Scalars['String']['input']>;
  /** Default `/`. */
  healthCheckPath?: InputMaybe<Scalars['String']['input']>;
  /** Install step. */
  installCommand?: InputMaybe<Scalars['String']['input']>;
  /** Display name (1-100 characters). */
  name: Scalars['String']['input'];
  /** Static output. */
  outputDirectory?: InputMaybe<Scalars['String']['input']>;
  /** Default `main`. */
  productionBranch?: InputMaybe<Scalars['String']['input']>;
  /** Relative folder. */
  rootDirectory?: InputMaybe<Scalars['String']['input']>;
  /** Defaults to the slugged name. */
  slug?: InputMaybe<Scalars['String']['input']>;
  /** Start command. */
  startCommand?: InputMaybe<Scalars['String']['input']>;
  /** Team that owns the project. */
  teamId: Scalars['ID']['input'];
};

/** A new team; the caller becomes its owner. */
export type CreateTeamInput = {
  /** Display name. */
  name: Scalars['String']['input'];
  /** Defaults to the slugged name. */
  slug?: InputMaybe<Scalars['String']['input']>;
};

/** Delete variables by key. */
export type DeleteEnvironmentVariablesInput = {
  /** Target environment. */
  environmentId: Scalars['ID']['input'];
  /** 1-100 keys; unknown keys are ignored. */
  keys: Array<Scalars['String']['input']>;
};

/** Result of deleteEnvironmentVariables. */
export type DeleteEnvironmentVariablesPayload = {
  __typename?: 'DeleteEnvironmentVariablesPayload';
  /** Keys that existed and were deleted. */
  deletedKeys: Array<Scalars['String']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Project to delete. */
export type DeleteProjectInput = {
  /** Project to delete. */
  projectId: Scalars['ID']['input'];
};

/** Result of deleteProject. */
export type DeleteProjectPayload = {
  __typename?: 'DeleteProjectPayload';
  /** Id of the project. */
  deletedProjectId?: Maybe<Scalars['ID']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Team to delete, with everything in it. */
export type DeleteTeamInput = {
  /** Team to delete. */
  teamId: Scalars['ID']['input'];
};

/** Result of deleteTeam. */
export type DeleteTeamPayload = {
  __typename?: 'DeleteTeamPayload';
  /** Id of the team. */
  deletedTeamId?: Maybe<Scalars['ID']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Release a build (or build a git ref first) to an environment. */
export type DeployInput = {
  /** Release this build (give this or gitRef). */
  buildId?: InputMaybe<Scalars['ID']['input']>;
  /** CANARY: initial percent to the new release (default 10). */
  canaryWeight?: InputMaybe<Scalars['Int']['input']>;
  /** Environment name. Default: production for the production branch (or a build's own environment); any other branch deploys to its own preview ("preview" also means the branch's preview). */
  environment?: InputMaybe<Scalars['String']['input']>;
  /** Build this ref first (give this or buildId). */
  gitRef?: InputMaybe<Scalars['String']['input']>;
  /** Same key, same deployment: safe to retry. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** Project to deploy. */
  projectId: Scalars['ID']['input'];
  /** Processes to run (1-32). */
  replicas?: Scalars['Int']['input'];
  /** How traffic moves. */
  strategy?: DeploymentStrategy;
};

/** A build released to an environment. */
export type Deployment = Node & {
  __typename?: 'Deployment';
  /** The build released (its commit, ref and artifact). */
  build: Build;
  /** The build released. */
  buildId: Scalars['ID']['output'];
  /** When it was requested. */
  createdAt: Scalars['DateTime']['output'];
  /** Environment name. */
  environment: Scalars['String']['output'];
  /** When its rollout ended. */
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** The running app's output, oldest first (at most 1,000 lines a page). */
  logs: DeploymentLogConnection;
  /** Human explanation of the outcome. */
  message?: Maybe<Scalars['String']['output']>;
  /** Per-project deployment number. */
  number: Scalars['Int']['output'];
  /** Project. */
  projectId: Scalars['ID']['output'];
  /** Why it ended badly: BUILD_FAILED, START_FAILED, HEALTH_CHECK_FAILED, ERROR_RATE, WORKER_LOST, CANCELED, ROLLED_BACK, NEWER_DEPLOYMENT (a newer deployment of the environment started), PREVIEW_EXPIRED, INTERNAL_ERROR. */
  reason?: Maybe<Scalars['String']['output']>;
  /** Processes serving the release. */
  replicas: Scalars['Int']['output'];
  /** A superseded release stays warm for instant rollback until then. */
  retainedUntil?: Maybe<Scalars['DateTime']['output']>;
  /** When its rollout started. */
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Current status. */
  status: DeploymentStatus;
  /** Rollout strategy. */
  strategy: DeploymentStrategy;
  /** Percent of the environment's requests the router sends here now. */
  trafficWeight: Scalars['Int']['output'];
  /** Where its environment is served: the router, or its Ingress on Kubernetes. */
  url: Scalars['String']['output'];
};


/** A build released to an environment. */
export type DeploymentLogsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** A page of deployments, newest first. */
export type DeploymentConnection = {
  __typename?: 'DeploymentConnection';
  /** Deployments with cursors. */
  edges: Array<DeploymentEdge>;
  /** Deployments of this page. */
  nodes: Array<Deployment>;
  /** Pagination state. */
  pageInfo: PageInfo;
};

/** An edge of a DeploymentConnection. */
export type DeploymentEdge = {
  __typename?: 'DeploymentEdge';
  /** Cursor of this deployment. */
  cursor: Scalars['String']['output'];
  /** The deployment. */
  node: Deployment;
};

/** A step of a deployment's timeline. */
export type DeploymentEvent = {
  __typename?: 'DeploymentEvent';
  /** When it happened. */
  at: Scalars['DateTime']['output'];
  /** What it is about. */
  kind: DeploymentEventKind;
  /** Human description. */
  message?: Maybe<Scalars['String']['output']>;
  /** Typed details: traffic {from,to,split}, health {attempts,status}, observation/rollback {requests,errors5xx,errorRate,threshold,reason}. */
  payload: Scalars['JSON']['output'];
  /** Per-deployment sequence number; the cursor. */
  seq: Scalars['Int']['output'];
  /** Deployment status after it. */
  status: DeploymentStatus;
  /** Traffic step, e.g. `50%`. */
  step?: Maybe<Scalars['String']['output']>;
};

/** What a timeline event is about. */
export type DeploymentEventKind =
  | 'BUILD'
  | 'HEALTH'
  | 'OBSERVATION'
  | 'ROLLBACK'
  | 'STATUS'
  | 'TRAFFIC';

/** A deployment to act on. */
export type DeploymentIdInput = {
  /** Deployment. */
  deploymentId: Scalars['ID']['input'];
};

/** A batch of deployment log lines. */
export type DeploymentLogBatch = {
  __typename?: 'DeploymentLogBatch';
  /** Pass as `after` to resume after this batch. */
  cursor: Scalars['String']['output'];
  /** Lines, in order. */
  lines: Array<DeploymentLogLine>;
};

/** A page of deployment log lines, oldest first. */
export type DeploymentLogConnection = {
  __typename?: 'DeploymentLogConnection';
  /** Lines of this page. */
  lines: Array<DeploymentLogLine>;
  /** Pass endCursor as `after`. */
  pageInfo: PageInfo;
};

/** A line the running app printed (stdout/stderr) or a runtime notice. */
export type DeploymentLogLine = {
  __typename?: 'DeploymentLogLine';
  /** When the line was printed. */
  at: Scalars['DateTime']['output'];
  /** Index of the replica that printed it. */
  replica: Scalars['Int']['output'];
  /** Per-deployment sequence number; the cursor. */
  seq: Scalars['Int']['output'];
  /** stdout, stderr, or system (e.g. lines dropped by a slow pipeline). */
  stream: LogStream;
  /** The line. */
  text: Scalars['String']['output'];
};

/** Result of deploy, cancel, promote and setTrafficSplit. */
export type DeploymentPayload = {
  __typename?: 'DeploymentPayload';
  /** Unless userErrors. */
  deployment?: Maybe<Deployment>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Where a deployment is in its life. */
export type DeploymentStatus =
  | 'ACTIVE'
  | 'BUILDING'
  | 'CANCELED'
  | 'DEPLOYING'
  | 'FAILED'
  | 'PROMOTING'
  | 'QUEUED'
  | 'ROLLED_BACK'
  | 'SUPERSEDED'
  | 'VERIFYING';

/** How traffic moves to a new release. */
export type DeploymentStrategy =
  | 'BLUE_GREEN'
  | 'CANARY'
  | 'IMMEDIATE'
  | 'ROLLING';

/** A deploy target of a project: production, preview or development. */
export type Environment = Node & {
  __typename?: 'Environment';
  /** A branch preview's branch (null for production, preview, development). */
  branch?: Maybe<Scalars['String']['output']>;
  /** Creation time. */
  createdAt: Scalars['DateTime']['output'];
  /** When the preview expired: its deployments were stopped and unrouted. */
  expiredAt?: Maybe<Scalars['DateTime']['output']>;
  /** A branch preview stops serving then (each deploy extends it). */
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** What the environment is for. */
  kind: EnvironmentKind;
  /** Environment name, unique in the project. */
  name: Scalars['String']['output'];
  /** Where the environment is served: the router, or its Ingress on Kubernetes. Null for `preview`, the template of the branch previews (which have their own). */
  url?: Maybe<Scalars['String']['output']>;
  /** Variables of this environment (metadata only), by key. */
  variables: Array<EnvironmentVariable>;
};

/** What an environment is for. */
export type EnvironmentKind =
  | 'DEVELOPMENT'
  | 'PREVIEW'
  | 'PRODUCTION';

/** A variable of an environment. The value is write-only. */
export type EnvironmentVariable = Node & {
  __typename?: 'EnvironmentVariable';
  /** When the key was first set. */
  createdAt: Scalars['DateTime']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Variable name, e.g. DATABASE_URL. */
  key: Scalars['String']['output'];
  /** When the value last changed. */
  updatedAt: Scalars['DateTime']['output'];
  /** HMAC-SHA256 of the value under a server key: compare, never read. */
  valueDigest: Scalars['String']['output'];
};

/** A variable to create or overwrite. */
export type EnvironmentVariableInput = {
  /** Name: letters, digits, underscores. */
  key: Scalars['String']['input'];
  /** Value, at most 64 KiB. Never returned. */
  value: Scalars['String']['input'];
};

/** How a project is built and started. */
export type Framework =
  | 'AUTO'
  | 'NODE'
  | 'PROCFILE'
  | 'PYTHON'
  | 'STATIC';

/** Sent every `heartbeatMs` without other events. */
export type Heartbeat = {
  __typename?: 'Heartbeat';
  /** Server time. */
  at: Scalars['DateTime']['output'];
};

/** Invite someone by email. */
export type InviteTeamMemberInput = {
  /** Invitee's email. */
  email: Scalars['String']['input'];
  /** Role on acceptance. */
  role: TeamRole;
  /** Team to join. */
  teamId: Scalars['ID']['input'];
};

/** Result of inviteTeamMember. The token is shown only here. */
export type InviteTeamMemberPayload = {
  __typename?: 'InviteTeamMemberPayload';
  /** The invitation. */
  invitation?: Maybe<TeamInvitation>;
  /** One-time token for acceptTeamInvitation. */
  token?: Maybe<Scalars['String']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Email and password. */
export type LogInInput = {
  /** Email address. */
  email: Scalars['String']['input'];
  /** Password. */
  password: Scalars['String']['input'];
};

/** End a session. */
export type LogOutInput = {
  /** Session to end; default: the caller's own session. */
  refreshToken?: InputMaybe<Scalars['String']['input']>;
};

/** Result of logOut. */
export type LogOutPayload = {
  __typename?: 'LogOutPayload';
  /** True when the session was revoked. */
  ok: Scalars['Boolean']['output'];
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Where a log line came from. */
export type LogStream =
  | 'STDERR'
  | 'STDOUT'
  | 'SYSTEM';

/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type Mutation = {
  __typename?: 'Mutation';
  /** Join a team with an invitation token. */
  acceptTeamInvitation: TeamMemberPayload;
  /** Cancel a queued or running build (stops within 2 s). */
  cancelBuild: BuildPayload;
  /** Stop a rollout; traffic returns to the earlier release. */
  cancelDeployment: DeploymentPayload;
  /** Create a team API key (signed-in users only). */
  createApiKey: CreateApiKeyPayload;
  /** Create a project with production, preview and development. */
  createProject: ProjectPayload;
  /** Create a team owned by the caller. */
  createTeam: TeamPayload;
  /** Delete variables by key. */
  deleteEnvironmentVariables: DeleteEnvironmentVariablesPayload;
  /** Delete a project with its environments and variables. */
  deleteProject: DeleteProjectPayload;
  /** Delete a team and everything in it (owners only). */
  deleteTeam: DeleteTeamPayload;
  /** Deploy a build or a git ref (idempotent with a key). */
  deploy: DeploymentPayload;
  /** Invite someone by email; returns a one-time token. */
  inviteTeamMember: InviteTeamMemberPayload;
  /** Sign in with email and password. */
  logIn: AuthPayload;
  /** Revoke a session and its tokens. */
  logOut: LogOutPayload;
  /** Send all traffic to a waiting canary. */
  promoteDeployment: DeploymentPayload;
  /** Exchange a refresh token for new tokens. Reusing an old refresh token revokes the whole session (UNAUTHENTICATED). */
  refreshSession: AuthPayload;
  /** Remove a member; the last owner cannot be removed. */
  removeTeamMember: RemoveTeamMemberPayload;
  /** Revoke an API key at once. */
  revokeApiKey: RevokeApiKeyPayload;
  /** Serve a retained release again at once (no rebuild, no restart). */
  rollbackDeployment: RollbackDeploymentPayload;
  /** New push-webhook secret; returns it and the URL once. */
  rotateProjectWebhookSecret: RotateProjectWebhookSecretPayload;
  /** Store (or clear) the token for a private repository. */
  setProjectGitCredential: SetProjectGitCredentialPayload;
  /** Change a waiting canary's share of the traffic. */
  setTrafficSplit: DeploymentPayload;
  /** Create an account (with a personal team) and sign in. */
  signUp: AuthPayload;
  /** Queue a build (idempotent with idempotencyKey). */
  triggerBuild: BuildPayload;
  /** Change a project's settings. */
  updateProject: ProjectPayload;
  /** Rename a team or change its slug. */
  updateTeam: TeamPayload;
  /** Change a member's role; a team keeps at least one owner. */
  updateTeamMemberRole: TeamMemberPayload;
  /** Create or overwrite variables; values are write-only. */
  upsertEnvironmentVariables: UpsertEnvironmentVariablesPayload;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationAcceptTeamInvitationArgs = {
  input: AcceptTeamInvitationInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationCancelBuildArgs = {
  input: CancelBuildInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationCancelDeploymentArgs = {
  input: DeploymentIdInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationCreateApiKeyArgs = {
  input: CreateApiKeyInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationCreateProjectArgs = {
  input: CreateProjectInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationCreateTeamArgs = {
  input: CreateTeamInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationDeleteEnvironmentVariablesArgs = {
  input: DeleteEnvironmentVariablesInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationDeleteProjectArgs = {
  input: DeleteProjectInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationDeleteTeamArgs = {
  input: DeleteTeamInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationDeployArgs = {
  input: DeployInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationInviteTeamMemberArgs = {
  input: InviteTeamMemberInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationLogInArgs = {
  input: LogInInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationLogOutArgs = {
  input: LogOutInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationPromoteDeploymentArgs = {
  input: DeploymentIdInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationRefreshSessionArgs = {
  input: RefreshSessionInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationRemoveTeamMemberArgs = {
  input: RemoveTeamMemberInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationRevokeApiKeyArgs = {
  input: RevokeApiKeyInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationRollbackDeploymentArgs = {
  input: DeploymentIdInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationRotateProjectWebhookSecretArgs = {
  input: RotateProjectWebhookSecretInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationSetProjectGitCredentialArgs = {
  input: SetProjectGitCredentialInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationSetTrafficSplitArgs = {
  input: SetTrafficSplitInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationSignUpArgs = {
  input: SignUpInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationTriggerBuildArgs = {
  input: TriggerBuildInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationUpdateProjectArgs = {
  input: UpdateProjectInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationUpdateTeamArgs = {
  input: UpdateTeamInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationUpdateTeamMemberRoleArgs = {
  input: UpdateTeamMemberRoleInput;
};


/** Write entry points. Each takes one `input` and returns a payload with `userErrors`. */
export type MutationUpsertEnvironmentVariablesArgs = {
  input: UpsertEnvironmentVariablesInput;
};

/** An object with a global id, fetchable with `node(id:)`. */
export type Node = {
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
};

/** Cursor pagination state of a connection. */
export type PageInfo = {
  __typename?: 'PageInfo';
  /** Pass as `after` for the next page. */
  endCursor?: Maybe<Scalars['String']['output']>;
  /** Whether more items follow. */
  hasNextPage: Scalars['Boolean']['output'];
};

/** An app built from one git repository. */
export type Project = Node & {
  __typename?: 'Project';
  /** Deployments the router sends traffic to in an environment, with weights. */
  activeDeployments: Array<Deployment>;
  /** Pushes deploy: the production branch to production (blue-green), other branches to their preview. Off: pushes only build. */
  autoDeploy: Scalars['Boolean']['output'];
  /** Overrides the build step. */
  buildCommand?: Maybe<Scalars['String']['output']>;
  /** Builds of the project, newest first. */
  builds: BuildConnection;
  /** Creation time. */
  createdAt: Scalars['DateTime']['output'];
  /** Deployments of the project, newest first; of one environment when `environment` is given. */
  deployments: DeploymentConnection;
  /** The project's environments. */
  environments: Array<Environment>;
  /** Build kind; `auto` detects it. */
  framework: Framework;
  /** Repository URL (https, ssh or file). */
  gitUrl: Scalars['String']['output'];
  /** HTTP path probed before traffic. */
  healthCheckPath: Scalars['String']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Overrides the install step. */
  installCommand?: Maybe<Scalars['String']['output']>;
  /** Display name. */
  name: Scalars['String']['output'];
  /** Static output folder. */
  outputDirectory?: Maybe<Scalars['String']['output']>;
  /** Branch deployed to production. */
  productionBranch: Scalars['String']['output'];
  /** Sub-folder of the repository to build. */
  rootDirectory: Scalars['String']['output'];
  /** URL-safe name, unique within the team. */
  slug: Scalars['String']['output'];
  /** Overrides the start command. */
  startCommand?: Maybe<Scalars['String']['output']>;
  /** Last settings change. */
  updatedAt: Scalars['DateTime']['output'];
};


/** An app built from one git repository. */
export type ProjectActiveDeploymentsArgs = {
  environment?: Scalars['String']['input'];
};


/** An app built from one git repository. */
export type ProjectBuildsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};


/** An app built from one git repository. */
export type ProjectDeploymentsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  environment?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** A build's status change or a deployment's timeline event. */
export type ProjectActivity = {
  __typename?: 'ProjectActivity';
  /** When it happened. */
  at: Scalars['DateTime']['output'];
  /** The build (subject BUILD). */
  buildId?: Maybe<Scalars['ID']['output']>;
  /** Resume after this entry with `after`. */
  cursor: Scalars['String']['output'];
  /** The deployment (subject DEPLOYMENT). */
  deploymentId?: Maybe<Scalars['ID']['output']>;
  /** DEPLOYMENT: the kind of timeline event (its details: deploymentEvents). */
  event?: Maybe<DeploymentEventKind>;
  /** Human summary. */
  message?: Maybe<Scalars['String']['output']>;
  /** The build's or deployment's number. */
  number: Scalars['Int']['output'];
  /** Its status after the change (a BuildStatus or DeploymentStatus value). */
  status: Scalars['String']['output'];
  /** Build or deployment. */
  subject: ActivitySubject;
};

/** A page of projects, oldest first. */
export type ProjectConnection = {
  __typename?: 'ProjectConnection';
  /** Items with their cursors. */
  edges: Array<ProjectEdge>;
  /** Items of this page. */
  nodes: Array<Project>;
  /** Pagination state. */
  pageInfo: PageInfo;
};

/** An edge of a ProjectConnection. */
export type ProjectEdge = {
  __typename?: 'ProjectEdge';
  /** Cursor of this item. */
  cursor: Scalars['String']['output'];
  /** The project. */
  node: Project;
};

/** Result of createProject / updateProject. */
export type ProjectPayload = {
  __typename?: 'ProjectPayload';
  /** The project, unless userErrors. */
  project?: Maybe<Project>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Read entry points. */
export type Query = {
  __typename?: 'Query';
  /** A build by id. */
  build: Build;
  /** A deployment by id. */
  deployment: Deployment;
  /** Any object by global id. */
  node: Node;
  /** Objects by global id (at most 100); null where not found. */
  nodes: Array<Maybe<Node>>;
  /** A project by id. */
  project: Project;
  /** A team by id. */
  team: Team;
  /** A team by slug. */
  teamBySlug: Team;
  /** Who is calling. UNAUTHENTICATED without credentials. */
  viewer: Viewer;
};


/** Read entry points. */
export type QueryBuildArgs = {
  id: Scalars['ID']['input'];
};


/** Read entry points. */
export type QueryDeploymentArgs = {
  id: Scalars['ID']['input'];
};


/** Read entry points. */
export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


/** Read entry points. */
export type QueryNodesArgs = {
  ids: Array<Scalars['ID']['input']>;
};


/** Read entry points. */
export type QueryProjectArgs = {
  id: Scalars['ID']['input'];
};


/** Read entry points. */
export type QueryTeamArgs = {
  id: Scalars['ID']['input'];
};


/** Read entry points. */
export type QueryTeamBySlugArgs = {
  slug: Scalars['String']['input'];
};

/** A refresh token to exchange. */
export type RefreshSessionInput = {
  /** The latest refresh token. */
  refreshToken: Scalars['String']['input'];
};

/** Remove a member (or leave, with your own membership). */
export type RemoveTeamMemberInput = {
  /** Membership to remove. */
  memberId: Scalars['ID']['input'];
};

/** Result of removeTeamMember. */
export type RemoveTeamMemberPayload = {
  __typename?: 'RemoveTeamMemberPayload';
  /** Removed membership. */
  removedMemberId?: Maybe<Scalars['ID']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Key to revoke. */
export type RevokeApiKeyInput = {
  /** Key to revoke. */
  apiKeyId: Scalars['ID']['input'];
};

/** Result of revokeApiKey. */
export type RevokeApiKeyPayload = {
  __typename?: 'RevokeApiKeyPayload';
  /** The revoked key. */
  apiKey?: Maybe<ApiKey>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Result of rollbackDeployment: what serves from now on. */
export type RollbackDeploymentPayload = {
  __typename?: 'RollbackDeploymentPayload';
  /** The release now serving. */
  deployment?: Maybe<Deployment>;
  /** Every release with traffic. */
  serving: Array<Deployment>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Generate a new push-webhook secret (the old one stops working). */
export type RotateProjectWebhookSecretInput = {
  /** Project. */
  projectId: Scalars['ID']['input'];
};

/** Result of rotateProjectWebhookSecret. The secret is shown once. */
export type RotateProjectWebhookSecretPayload = {
  __typename?: 'RotateProjectWebhookSecretPayload';
  /** HMAC secret for X-Hub-Signature-256. */
  secret?: Maybe<Scalars['String']['output']>;
  /** Input problems. */
  userErrors: Array<UserError>;
  /** URL to send push events to. */
  webhookUrl?: Maybe<Scalars['String']['output']>;
};

/** The token used to clone a private repository. */
export type SetProjectGitCredentialInput = {
  /** Project. */
  projectId: Scalars['ID']['input'];
  /** Token (write-only); null clears it. */
  token?: InputMaybe<Scalars['String']['input']>;
};

/** Result of setProjectGitCredential. */
export type SetProjectGitCredentialPayload = {
  __typename?: 'SetProjectGitCredentialPayload';
  /** True when stored (or cleared). */
  ok: Scalars['Boolean']['output'];
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** A waiting canary's share of the traffic. */
export type SetTrafficSplitInput = {
  /** The canary deployment. */
  deploymentId: Scalars['ID']['input'];
  /** Percent to the canary; the rest to the old one. */
  weight: Scalars['Int']['input'];
};

/** A new account. */
export type SignUpInput = {
  /** Email address (unique). */
  email: Scalars['String']['input'];
  /** Display name. */
  name?: Scalars['String']['input'];
  /** 10-256 characters. */
  password: Scalars['String']['input'];
};

/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type Subscription = {
  __typename?: 'Subscription';
  /** The build's current status, then every status and step change; completes when the build ends. */
  buildEvents: BuildEvent;
  /** Log lines after `after` (a line's seq), replayed then live, in batches; completes when the build ends. Reconnect with the last cursor to miss nothing. A client too slow to keep up gets SUBSCRIBER_LAGGED with the cursor to resume from. */
  buildLogs: BuildLogBatch;
  /** Timeline events after `after` (an event's seq), replayed then live; completes when the rollout ends. Reconnect with the last seq to miss nothing. */
  deploymentEvents: DeploymentEvent;
  /** The running app's stdout/stderr after `after` (a line's seq), replayed then live, in batches. Completes once the deployment ended and its release is stopped; never while it serves (close it when done). Reconnect with the last cursor to miss nothing. A client too slow to keep up gets SUBSCRIBER_LAGGED with the cursor to resume from. */
  deploymentLogs: DeploymentLogBatch;
  /** The project's builds and deployments as they change: status changes and timeline events, live. With `after` (a cursor), entries since then are replayed first; the newest 10,000 entries are retained. Never completes (close it when done). */
  projectActivity: ProjectActivity;
  /** Audit events of the viewer's teams (entries the viewer may read), with optional heartbeats; completes after `first` events when given. */
  viewerEvents: ViewerEvent;
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionBuildEventsArgs = {
  buildId: Scalars['ID']['input'];
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionBuildLogsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  buildId: Scalars['ID']['input'];
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionDeploymentEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  deploymentId: Scalars['ID']['input'];
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionDeploymentLogsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  deploymentId: Scalars['ID']['input'];
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionProjectActivityArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  projectId: Scalars['ID']['input'];
};


/** Live streams over websockets (graphql-transport-ws or graphql-ws). */
export type SubscriptionViewerEventsArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
  heartbeatMs?: Scalars['Int']['input'];
};

/** A group of people sharing projects, billing and an audit log. */
export type Team = Node & {
  __typename?: 'Team';
  /** API keys of the team (admins only). */
  apiKeys: Array<ApiKey>;
  /** Audit log of the team, newest first (admins only). */
  auditLog: AuditLogConnection;
  /** Creation time. */
  createdAt: Scalars['DateTime']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Members with their roles. */
  members: Array<TeamMember>;
  /** Display name. */
  name: Scalars['String']['output'];
  /** Projects of the team, oldest first. */
  projects: ProjectConnection;
  /** Globally unique URL-safe name. */
  slug: Scalars['String']['output'];
};


/** A group of people sharing projects, billing and an audit log. */
export type TeamAuditLogArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<AuditLogFilter>;
  first?: Scalars['Int']['input'];
};


/** A group of people sharing projects, billing and an audit log. */
export type TeamProjectsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** A pending invitation to join a team. */
export type TeamInvitation = Node & {
  __typename?: 'TeamInvitation';
  /** Who is invited. */
  email: Scalars['String']['output'];
  /** Expiry time. */
  expiresAt: Scalars['DateTime']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Role granted on acceptance. */
  role: TeamRole;
};

/** A person's membership of a team. */
export type TeamMember = Node & {
  __typename?: 'TeamMember';
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** When the person joined. */
  joinedAt: Scalars['DateTime']['output'];
  /** The member's role. */
  role: TeamRole;
  /** The person. */
  user: User;
};

/** Result of acceptTeamInvitation / updateTeamMemberRole. */
export type TeamMemberPayload = {
  __typename?: 'TeamMemberPayload';
  /** The membership. */
  member?: Maybe<TeamMember>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** Result of createTeam / updateTeam. */
export type TeamPayload = {
  __typename?: 'TeamPayload';
  /** The team, unless userErrors. */
  team?: Maybe<Team>;
  /** Input problems. */
  userErrors: Array<UserError>;
};

/** What a member may do in a team. */
export type TeamRole =
  | 'ADMIN'
  | 'DEVELOPER'
  | 'OWNER'
  | 'VIEWER';

/** Build a project at a git ref. */
export type TriggerBuildInput = {
  /** Environment whose variables the build sees; default: production for the production branch, preview otherwise. */
  environment?: InputMaybe<Scalars['String']['input']>;
  /** Same key, same build: safe to retry. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** Project to build. */
  projectId: Scalars['ID']['input'];
  /** Branch, tag or commit; default: the production branch. */
  ref?: InputMaybe<Scalars['String']['input']>;
};

/** Changes to a project; omitted fields stay as they are. */
export type UpdateProjectInput = {
  /** Pushes deploy. */
  autoDeploy?: InputMaybe<Scalars['Boolean']['input']>;
  /** Build step. */
  buildCommand?: InputMaybe<Scalars['String']['input']>;
  /** Build kind. */
  framework?: InputMaybe<Framework>;
  /** Repository URL. */
  gitUrl?: InputMaybe<Scalars['String']['input']>;
  /** Probe path. */
  healthCheckPath?: InputMaybe<Scalars['String']['input']>;
  /** Install step. */
  installCommand?: InputMaybe<Scalars['String']['input']>;
  /** Display name. */
  name?: InputMaybe<Scalars['String']['input']>;
  /** Static output. */
  outputDirectory?: InputMaybe<Scalars['String']['input']>;
  /** Branch. */
  productionBranch?: InputMaybe<Scalars['String']['input']>;
  /** Project to change. */
  projectId: Scalars['ID']['input'];
  /** Relative folder. */
  rootDirectory?: InputMaybe<Scalars['String']['input']>;
  /** URL-safe name. */
  slug?: InputMaybe<Scalars['String']['input']>;
  /** Start command. */
  startCommand?: InputMaybe<Scalars['String']['input']>;
};

/** Changes to a team; omitted fields stay as they are. */
export type UpdateTeamInput = {
  /** Display name. */
  name?: InputMaybe<Scalars['String']['input']>;
  /** URL-safe name. */
  slug?: InputMaybe<Scalars['String']['input']>;
  /** Team to change. */
  teamId: Scalars['ID']['input'];
};

/** Change a member's role. */
export type UpdateTeamMemberRoleInput = {
  /** Membership to change. */
  memberId: Scalars['ID']['input'];
  /** New role. */
  role: TeamRole;
};

/** Create or overwrite up to 100 variables at once. */
export type UpsertEnvironmentVariablesInput = {
  /** Target environment. */
  environmentId: Scalars['ID']['input'];
  /** 1-100 variables. */
  variables: Array<EnvironmentVariableInput>;
};

/** Result of upsertEnvironmentVariables. */
export type UpsertEnvironmentVariablesPayload = {
  __typename?: 'UpsertEnvironmentVariablesPayload';
  /** Input problems. */
  userErrors: Array<UserError>;
  /** Written variables. */
  variables: Array<EnvironmentVariable>;
};

/** A person as other members see them. */
export type User = Node & {
  __typename?: 'User';
  /** Sign-up time. */
  createdAt: Scalars['DateTime']['output'];
  /** Sign-in email, lower-cased. */
  email: Scalars['String']['output'];
  /** Globally unique, opaque id. */
  id: Scalars['ID']['output'];
  /** Display name. */
  name: Scalars['String']['output'];
};

/** A problem with the input that the client can fix. */
export type UserError = {
  __typename?: 'UserError';
  /** Stable machine-readable reason. */
  code: UserErrorCode;
  /** Path to the input field at fault, e.g. ['variables', '2', 'key']. */
  field?: Maybe<Array<Scalars['String']['output']>>;
  /** Human-readable explanation. */
  message: Scalars['String']['output'];
};

/** Why a mutation's input was refused. */
export type UserErrorCode =
  | 'ALREADY_MEMBER'
  | 'BUILD_FINISHED'
  | 'BUILD_NOT_READY'
  | 'DEPLOYMENT_FINISHED'
  | 'DUPLICATE_KEY'
  | 'EMAIL_TAKEN'
  | 'GIT_URL_MISSING'
  | 'INVALID_ARGUMENT'
  | 'INVALID_BRANCH'
  | 'INVALID_CREDENTIALS'
  | 'INVALID_CURSOR'
  | 'INVALID_EMAIL'
  | 'INVALID_EXPIRY'
  | 'INVALID_GIT_URL'
  | 'INVALID_INVITATION'
  | 'INVALID_KEY'
  | 'INVALID_PATH'
  | 'INVALID_REF'
  | 'INVALID_SLUG'
  | 'INVALID_STATE'
  | 'INVALID_TOKEN'
  | 'INVALID_WEIGHTS'
  | 'INVITATION_EXPIRED'
  | 'LAST_OWNER'
  | 'LIMIT_REACHED'
  | 'NO_SESSION'
  | 'RELEASE_NOT_RETAINED'
  | 'REQUIRED'
  | 'SLUG_TAKEN'
  | 'TOO_LONG'
  | 'TOO_MANY'
  | 'UNKNOWN_ENVIRONMENT'
  | 'WEAK_PASSWORD';

/** The signed-in user (or API key's creator) and their teams. */
export type Viewer = {
  __typename?: 'Viewer';
  /** Teams the viewer belongs to (an API key: its own team). */
  teams: Array<Team>;
  /** The user. */
  user: User;
};

/** An event for the signed-in viewer. */
export type ViewerEvent = AuditEvent | Heartbeat;

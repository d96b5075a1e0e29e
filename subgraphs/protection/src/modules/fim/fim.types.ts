import { Connection } from "../../../../common/src";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";

/** What happened to a watched file. */
export enum FileChangeAction {
  CREATED = "created",
  MODIFIED = "modified",
  DELETED = "deleted",
  RENAMED = "renamed",
}

/** Where a machine's or group's watch list comes from. */
export enum FimWatchListSource {
  GROUP = "GROUP",
  TENANT = "TENANT",
  DEFAULT = "DEFAULT",
}

registerEnumType(FileChangeAction, {
  name: "FileChangeAction",
  description: "CREATED, MODIFIED, DELETED or RENAMED (from `previousPath`).",
});
registerEnumType(FimWatchListSource, {
  name: "FimWatchListSource",
  description:
    "GROUP (the application-control group's own list), TENANT (the tenant's list) or DEFAULT (the built-in Linux and Windows list).",
});

/** One watched path. */
@ObjectType({ description: "A path file integrity monitoring watches." })
export class FimWatchedPath {
  @Field({
    description:
      "Absolute path (POSIX or Windows); `*` matches within one path segment, e.g. `/home/*/.ssh/authorized_keys`.",
  })
  path: string;

  @Field({ description: "Also watches everything beneath the path (a directory)." })
  recursive: boolean;

  @Field({ description: "Changes raise a security alert (otherwise they are only recorded)." })
  critical: boolean;
}

/** A watch list. */
@ObjectType({
  description: "The paths file integrity monitoring watches on a group's or the tenant's machines.",
})
export class FimWatchList {
  @Field(() => ID, {
    nullable: true,
    description:
      "The application-control group it applies to; null: the tenant's machines outside groups with a list.",
  })
  groupId: string | null;

  @Field(() => FimWatchListSource, {
    description: "Where the paths come from (a group or tenant without its own list inherits).",
  })
  source: FimWatchListSource;

  @Field(() => [FimWatchedPath], { description: "The watched paths." })
  paths: FimWatchedPath[];

  @Field(() => String, { nullable: true, description: "Who set it (null: inherited)." })
  updatedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it was set (null: inherited)." })
  updatedAt: Date | null;
}

/** A path of `setFimWatchedPaths`. */
@InputType({ description: "A path to watch." })
export class FimWatchedPathInput {
  @Field({
    description:
      "Absolute path (POSIX or Windows drive path, at most 1,024 characters); `*` matches within one segment.",
  })
  path: string;

  @Field({ defaultValue: false, description: "Also watch everything beneath it (default false)." })
  recursive: boolean;

  @Field({ defaultValue: true, description: "Changes raise a security alert (default true)." })
  critical: boolean;
}

/** Input of `setFimWatchedPaths`. */
@InputType({ description: "Sets the watched paths of an application-control group, or of the tenant." })
export class SetFimWatchedPathsInput {
  @Field(() => ID, { nullable: true, description: "The group; omit for the tenant's list." })
  groupId?: string | null;

  @Field(() => [FimWatchedPathInput], { description: "The paths (0 to 200); replaces the list." })
  paths: FimWatchedPathInput[];
}

/** Input of `resetFimWatchedPaths`. */
@InputType({ description: "Removes a group's or the tenant's own list, so it inherits again." })
export class ResetFimWatchedPathsInput {
  @Field(() => ID, {
    nullable: true,
    description: "The group; omit for the tenant's list (back to the built-in one).",
  })
  groupId?: string | null;
}

/** A change to a watched file. */
@ObjectType({
  description:
    "A change to a watched file, from the machine's telemetry, with the content hash before and after.",
})
export class FileChange {
  @Field(() => ID, { description: "The telemetry record id (unique per machine)." })
  id: string;

  @Field({ description: "The file." })
  path: string;

  @Field(() => String, { nullable: true, description: "For RENAMED: the path before." })
  previousPath: string | null;

  @Field(() => FileChangeAction, { description: "What happened." })
  action: FileChangeAction;

  @Field(() => String, {
    nullable: true,
    description:
      "SHA-256 before the change: as the agent reported it, else the previous change's, else the baseline's (null for CREATED or when unknown).",
  })
  oldSha256: string | null;

  @Field(() => String, {
    nullable: true,
    description: "SHA-256 after the change (null for DELETED or when not reported).",
  })
  newSha256: string | null;

  @Field(() => String, { nullable: true, description: "The path's baseline hash: the first one seen." })
  baselineSha256: string | null;

  @Field({ description: "When it happened." })
  time: Date;

  @Field(() => String, { nullable: true, description: "The account that made it, when reported." })
  user: string | null;

  @Field({
    description:
      "Whether the path is critical under the watch list in force now (critical changes raise alerts).",
  })
  critical: boolean;
}

/** A page of file changes. */
export const FileChangeConnection = Connection(FileChange);
export type FileChangeConnection = InstanceType<typeof FileChangeConnection>;

/** Which file changes to list. */
@InputType({ description: "Conditions on file changes; all given ones must hold." })
export class FileChangeFilter {
  @Field(() => [FileChangeAction], { nullable: true, description: "Any of these actions." })
  actions?: FileChangeAction[] | null;

  @Field(() => Boolean, { nullable: true, description: "true: only critical paths; false: only the others." })
  critical?: boolean | null;

  @Field(() => String, { nullable: true, description: "Only this path (compared as the machine's OS does)." })
  path?: string | null;

  @Field(() => Date, { nullable: true, description: "At or after this time." })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: "Before this time." })
  until?: Date | null;
}

/** The first hash seen for a watched path. */
@ObjectType({ description: "The baseline of a watched path on a machine: the first hash seen for it." })
export class FileBaseline {
  @Field({ description: "The file." })
  path: string;

  @Field(() => String, { nullable: true, description: "SHA-256 (null when the first record carried none)." })
  sha256: string | null;

  @Field({ description: "Time of the record it comes from." })
  firstSeen: Date;

  @Field(() => ID, { description: "The telemetry record it comes from." })
  recordId: string;
}

/** A page of baselines. */
export const FileBaselineConnection = Connection(FileBaseline);
export type FileBaselineConnection = InstanceType<typeof FileBaselineConnection>;

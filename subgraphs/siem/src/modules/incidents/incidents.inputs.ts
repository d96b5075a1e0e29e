import { Field, ID, InputType } from "type-graphql";
import { Severity } from "../alerts/alert.entity";

/** A manually created incident. */
@InputType({ description: "Creates an incident by hand from existing alerts." })
export class CreateIncidentInput {
  @Field({ description: "Title." })
  title: string;

  @Field({ defaultValue: "", description: "Description." })
  description: string;

  @Field(() => Severity, { description: "Severity." })
  severity: Severity;

  @Field(() => [ID], { defaultValue: [], description: "Alerts to attach (ids of the tenant's alerts)." })
  alertIds: string[];
}

import { Directive, Field, Int, ObjectType } from "type-graphql";
import type { InputProblem } from "./errors";

/** A bulk-ingest record that was rejected while the good ones were kept. */
@ObjectType({ description: "A record a bulk ingest rejected (the other records were kept)." })
@Directive("@shareable")
export class RecordRejection {
  @Field(() => Int, { nullable: true, description: "Position of the record in the input." })
  index?: number;

  @Field({ description: "The faulty field." })
  field: string;

  @Field({ description: "What is wrong with it." })
  message: string;

  static from(problem: InputProblem): RecordRejection {
    return Object.assign(new RecordRejection(), problem);
  }
}

"""Process definitions: parsing and checking BPMN and DMN, storing versions, (de)serializing specs."""
